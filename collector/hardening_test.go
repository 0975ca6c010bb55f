package collector

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// TestUnexpectedReplyKeepsThePushID: a reply of the wrong shape used to drop
// the PushID for good as rejected (issue 13.6). It is the API's fault, not
// the PushID's: the PushID is kept and tried again later, like after a
// transient error.
func TestUnexpectedReplyKeepsThePushID(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("odd")
	h.clock.Advance(time.Minute)
	h.tracer.expect(t, "odd").answer(nil, &timapi.Error{Class: timapi.ClassUnexpectedReply,
		Err: fmt.Errorf("%w: InstanceTrace is an object", timapi.ErrUnexpectedReply)})
	h.idle()
	h.clock.Advance(errorRetryBase)
	h.tracer.expect(t, "odd").answer(trace("odd", instance("i", 2, stat(ok, 0, t0))), nil)
	h.idle()
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mDropped, app: "prod", extra: "rejected"}); got != 0 {
		t.Errorf("rejected drops = %v, want 0: the PushID is kept", got)
	}
	if got := h.counter(seriesKey{metric: mStage, app: "prod", platform: "xiaomi", stage: "im"}); got != 1 {
		t.Errorf("im = %v, want 1 from the retry", got)
	}
}

// TestOutOfRangeStageCode: a stage error code beyond the 32-bit range is
// labelled out_of_range, as timapi.CodeLabel says, not as a number the
// conversion made up (issue 13.11).
func TestOutOfRangeStageCode(t *testing.T) {
	h := newHarness(t, "", func(a *App) { a.RequeryAfter = nil })
	for i, code := range []int{math.MinInt64, 1 << 40} {
		id := fmt.Sprintf("p%d", i)
		h.offer(id)
		h.clock.Advance(time.Minute)
		h.tracer.expect(t, id).answer(trace(id, instance("i", 6, stat(ok, 0, t0), stat(ok, 0, t0), stat(fail, code, t0))), nil)
		h.idle()
	}
	h.checkpoint()
	if got := h.failures("oppo", "channel", timapi.LabelOutOfRange); got != 2 {
		t.Errorf("error_code=%q = %v, want 2", timapi.LabelOutOfRange, got)
	}
	if got := h.failures("oppo", "channel", "-9223372036854775808"); got != 0 {
		t.Errorf("a made-up code was counted: %v", got)
	}
}

// purposeTracer tells which purpose each query carries.
type purposeTracer struct {
	Tracer
	got chan timapi.Purpose
}

func (p purposeTracer) Trace(ctx context.Context, id string) (*timapi.Trace, error) {
	p.got <- timapi.PurposeOf(ctx)
	return p.Tracer.Trace(ctx, id)
}

// TestQueriesCarryTheirPurpose: the first query of a PushID and its
// requeries are counted apart in api_calls_total.
func TestQueriesCarryTheirPurpose(t *testing.T) {
	got := make(chan timapi.Purpose, 4)
	h := newHarness(t, "", func(a *App) { a.Tracer = purposeTracer{a.Tracer, got} })
	h.offer("p")
	h.clock.Advance(time.Minute)
	h.tracer.expect(t, "p").answer(trace("p", instance("i", 2, stat(ok, 0, t0))), nil) // offline unreported: requeried
	h.idle()
	h.clock.Advance(4 * time.Minute)
	h.tracer.expect(t, "p").answer(trace("p", instance("i", 2, stat(ok, 0, t0))), nil)
	for i, want := range []timapi.Purpose{timapi.PurposeFirst, timapi.PurposeRequery} {
		if p := <-got; p != want {
			t.Errorf("query %d: purpose %q, want %q", i, p, want)
		}
	}
}

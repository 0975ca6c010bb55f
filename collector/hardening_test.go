package collector

import (
	"fmt"
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

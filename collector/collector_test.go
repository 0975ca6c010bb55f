package collector

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

var (
	ok   = timapi.StatusSuccess
	fail = timapi.StatusFailure
)

func TestStagesCountedOnceAcrossRequeries(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("p1")

	// First query at query_delay: device not reported yet.
	h.clock.Advance(time.Minute)
	h.tracer.expect(t, "p1").answer(trace("p1",
		instance("i1", 3, stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0.Add(2*time.Second))),
	), nil)
	h.idle()

	// Requery at 5m: the device failure has arrived; earlier stages repeat.
	h.clock.Advance(4 * time.Minute)
	h.tracer.expect(t, "p1").answer(trace("p1",
		instance("i1", 3, stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0.Add(2*time.Second)), stat(fail, 80300007, t0.Add(40*time.Second))),
	), nil)
	h.idle()
	// A failed device stage expects nothing more: the push is finished.
	h.checkpoint()

	want := map[seriesKey]float64{
		{metric: mStage, app: "prod", platform: "huawei", stage: "im"}:                                                    1,
		{metric: mStage, app: "prod", platform: "huawei", stage: "offline"}:                                               1,
		{metric: mStage, app: "prod", platform: "huawei", stage: "channel"}:                                               1,
		{metric: mStage, app: "prod", platform: "huawei", stage: "device"}:                                                1,
		{metric: mFailures, app: "prod", platform: "huawei", stage: "device", extra: "80300007", reason: "token_invalid"}: 1,
		{metric: mInstances, app: "prod", platform: "huawei"}:                                                             1,
	}
	for k, v := range want {
		if got := h.counter(k); got != v {
			t.Errorf("%+v = %v, want %v", k, got, v)
		}
	}
	if n := h.c.apps["prod"].queue.len(); n != 0 {
		t.Errorf("pending = %d, want 0: a push whose last expected stage failed is finished", n)
	}
	lat, _ := h.c.snap.Load().family(mLatency).Lookup("prod", "huawei", "device")
	if lat.Count != 1 || lat.Sum != 40 {
		t.Errorf("device latency histogram count=%d sum=%v, want one observation of 40s", lat.Count, lat.Sum)
	}
}

func TestRequeriesStopWhenComplete(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("p1")
	h.clock.Advance(time.Minute)
	full := instance("i1", 1, stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0))
	h.tracer.expect(t, "p1").answer(trace("p1", full), nil)
	h.idle()
	h.offer("p2") // a later query proves p1 is not requeried first
	h.clock.Advance(time.Hour)
	h.tracer.expect(t, "p2").answer(trace("p2"), nil)
	h.idle()
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mStage, app: "prod", platform: "apns", stage: "click"}); got != 1 {
		t.Fatalf("click = %v, want 1", got)
	}
}

func TestUnreportedCountedWhenRequeriesRunOut(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("p1")
	partial := trace("p1", instance("i1", 7, stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0)))
	for _, at := range []time.Duration{time.Minute, 4 * time.Minute, 25 * time.Minute} {
		h.clock.Advance(at)
		h.tracer.expect(t, "p1").answer(partial, nil)
		h.idle()
	}
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mUnreported, app: "prod", platform: "vivo", stage: "device"}); got != 1 {
		t.Fatalf("unreported device = %v, want 1 after the last requery", got)
	}
	if got := h.counter(seriesKey{metric: mStage, app: "prod", platform: "vivo", stage: "channel"}); got != 1 {
		t.Fatalf("channel counted %v times over three queries, want 1", got)
	}
}

func TestDuplicatesAndSampling(t *testing.T) {
	h := newHarness(t, "", func(a *App) { a.SampleRatio = 0.5 })
	var ids []string
	for i := 0; i < 1000; i++ {
		ids = append(ids, fmt.Sprintf("144115233406643804-1727580296-%d", i))
	}
	h.offer(ids...)
	h.offer(ids...) // every ID seen twice
	h.checkpoint()
	sampledN := h.counter(seriesKey{metric: mSampled, app: "prod"})
	if sampledN < 430 || sampledN > 570 {
		t.Fatalf("sampled %v of 1000 at ratio 0.5", sampledN)
	}
	if got := h.counter(seriesKey{metric: mDuplicates, app: "prod"}); got != sampledN {
		t.Fatalf("duplicates = %v, want %v (each sampled ID once more)", got, sampledN)
	}
	if got := h.counter(seriesKey{metric: mReceived, app: "prod", extra: "file"}); got != 2000 {
		t.Fatalf("received = %v, want 2000", got)
	}
	// Deterministic: a subset relation between ratios, and the same answer twice.
	for _, id := range ids {
		hsh := pushid.Hash(id)
		if pushid.Sampled(hsh, 0.1) && !pushid.Sampled(hsh, 0.5) {
			t.Fatalf("%s kept at 0.1 but not at 0.5", id)
		}
	}
}

func TestFreshestDueFirstAndQueueBound(t *testing.T) {
	h := newHarness(t, "", func(a *App) { a.MaxPending = 3; a.RequeryAfter = nil })
	for i := 1; i <= 4; i++ {
		h.offer(fmt.Sprintf("p%d", i))
		h.clock.Advance(time.Second)
	}
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mDropped, app: "prod", extra: "queue_full"}); got != 1 {
		t.Fatalf("queue_full drops = %v, want 1", got)
	}
	h.clock.Advance(time.Hour)
	// p1 (oldest) was dropped; the rest come freshest first.
	for _, want := range []string{"p4", "p3", "p2"} {
		h.tracer.expect(t, want).answer(trace(want), nil)
	}
}

func TestExpiredAfterSevenDays(t *testing.T) {
	h := newHarness(t, "", nil)
	h.c.mu.Lock()
	h.c.apps["prod"].cfg.Tracer = nil // never called: the entry must expire first
	h.c.mu.Unlock()
	h.offer("old")
	h.idle()
	h.clock.Advance(retention + time.Minute)
	h.idle()
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mDropped, app: "prod", extra: "expired"}); got != 1 {
		t.Fatalf("expired drops = %v, want 1", got)
	}
}

func TestErrorClasses(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("bad")
	h.clock.Advance(time.Minute)
	h.tracer.expect(t, "bad").answer(nil, &timapi.Error{Class: timapi.ClassBadRequest, Code: 90100})

	h.offer("cfg")
	h.clock.Advance(time.Minute)
	h.tracer.expect(t, "cfg").answer(nil, &timapi.Error{Class: timapi.ClassConfig, Code: 70009})
	h.idle()
	h.checkpoint()
	if up := h.c.apps["prod"].up; up {
		t.Fatal("app_up should be 0 after a configuration error")
	}
	// Paused, then retried with the same PushID kept.
	h.clock.Advance(configPauseMin)
	h.tracer.expect(t, "cfg").answer(nil, errors.New("connection reset"))
	h.idle()
	h.clock.Advance(errorRetryBase)
	h.tracer.expect(t, "cfg").answer(trace("cfg", instance("i", 2, stat(ok, 0, t0))), nil)
	h.idle()
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mDropped, app: "prod", extra: "rejected"}); got != 1 {
		t.Errorf("rejected drops = %v, want 1", got)
	}
	if got := h.counter(seriesKey{metric: mStage, app: "prod", platform: "xiaomi", stage: "im"}); got != 1 {
		t.Errorf("im = %v, want 1 once the app works again", got)
	}
	if !h.c.apps["prod"].up {
		t.Error("app_up should be back to 1")
	}
}

func TestErrorCodeCap(t *testing.T) {
	h := newHarness(t, "", func(a *App) { a.RequeryAfter = nil })
	h.c.opts.MaxErrorCodes = 2
	for i, code := range []int{11, 22, 33} {
		id := fmt.Sprintf("p%d", i)
		h.offer(id)
		h.clock.Advance(time.Minute)
		h.tracer.expect(t, id).answer(trace(id, instance("i", 6, stat(ok, 0, t0), stat(ok, 0, t0), stat(fail, code, t0))), nil)
		h.idle()
	}
	h.checkpoint()
	for code, want := range map[string]float64{"11": 1, "22": 1, "33": 0, "other": 1} {
		if got := h.failures("oppo", "channel", code); got != want {
			t.Errorf("error_code %s = %v, want %v", code, got, want)
		}
	}
}

func TestReceivedCountedPerAppAndSource(t *testing.T) {
	h := newHarness(t, "", nil)
	at := h.clock.Now()
	offer(h.c, []pushid.ID{
		{App: "prod", PushID: "a", Source: "file", Seen: at},
		{App: "prod", PushID: "b", Source: "file", Seen: at},
		{App: "prod", PushID: "c", Source: "webhook", Seen: at},
		{App: "nope", PushID: "d", Source: "file", Seen: at},
		{App: "prod", PushID: "a", Source: "file", Seen: at},
	}, nil)
	h.checkpoint()
	for source, want := range map[string]float64{"file": 3, "webhook": 1} {
		if got := h.counter(seriesKey{metric: mReceived, app: "prod", extra: source}); got != want {
			t.Errorf("received{source=%q} = %v, want %v", source, got, want)
		}
	}
	if got := h.counter(seriesKey{metric: mReceived, app: "nope", extra: "file"}); got != 0 {
		t.Errorf("an unknown app's PushID counted as received: %v", got)
	}
}

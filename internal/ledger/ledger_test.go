package ledger

import (
	"fmt"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

func TestStagesCountedOnceAcrossRequeries(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("p1")
	h.none(everything)

	// First query at query_delay: device not reported yet.
	h.clock.Advance(time.Minute)
	w := h.next(everything, "p1")
	if w.Step != 0 {
		t.Fatalf("step = %d, want the first query", w.Step)
	}
	res := h.l.Done(w, trace("p1", upTo("i1", 3, timapi.StageChannel)))
	if res.New != 3 || !res.More {
		t.Fatalf("first query: %+v, want 3 new outcomes and a requery to come", res)
	}
	h.none(everything) // the requery is due at 5m

	// Requery at 5m: the device failure has arrived; earlier stages repeat.
	h.clock.Advance(4 * time.Minute)
	w = h.next(everything, "p1")
	if w.Step != 1 {
		t.Fatalf("step = %d, want the first requery", w.Step)
	}
	in := upTo("i1", 3, timapi.StageChannel)
	in.Stages[timapi.StageDevice] = stat(fail, 80300007, t0.Add(40*time.Second))
	res = h.l.Done(w, trace("p1", in))
	if res.New != 1 || res.Tried[timapi.StageDevice] != 1 || res.Revealed[timapi.StageDevice] != 1 || res.More {
		t.Fatalf("requery: %+v, want the device outcome, and the push finished (a failed stage expects nothing more)", res)
	}
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
	if n := h.pending(); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
	lat, _ := h.l.Snapshot().family(mLatency).Lookup("prod", "huawei", "device")
	if lat.Count != 1 || lat.Sum != 40 {
		t.Errorf("device latency histogram count=%d sum=%v, want one observation of 40s", lat.Count, lat.Sum)
	}
}

// TestRequeryAfterBoundsTheSchedule: at most one requery per offset, none
// after the last one: a requery left waiting in its class moves on to the
// next offset, and one left past the last offset is finished, its missing
// stages counted as unreported.
func TestRequeryAfterBoundsTheSchedule(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("p1")
	h.clock.Advance(time.Minute)
	h.l.Done(h.next(everything, "p1"), trace("p1", upTo("i1", 7, timapi.StageChannel)))

	// Nobody queries at 5m; at 30m the push waits for its second requery.
	h.clock.Advance(29 * time.Minute)
	w := h.next(everything, "p1")
	if w.Step != 2 {
		t.Fatalf("at 30m: step %d, want 2 (the 5m requery was never made and is skipped)", w.Step)
	}
	h.l.Requeue(w)
	// Past the last offset by more than lateAfter: finished, not queried.
	h.clock.Advance(lateAfter + time.Second)
	h.none(everything)
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mUnreported, app: "prod", platform: "vivo", stage: "device"}); got != 1 {
		t.Fatalf("unreported device = %v, want 1", got)
	}
	if h.pending() != 0 {
		t.Fatalf("pending = %d, want 0", h.pending())
	}
}

// TestNextPicksTheBestYield: the class with the highest expected yield
// goes first; a class worth nothing skips its requery.
func TestNextPicksTheBestYield(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("clicky", "devicey")
	h.clock.Advance(time.Minute)
	// clicky: delivered, waits only for a click; devicey: waits for its device.
	h.l.Done(h.next(everything, ""), trace("x"))
	h.l.Done(h.next(everything, ""), trace("x"))
	// Both had empty traces (no instance yet): now give them content.
	h.clock.Advance(4 * time.Minute)
	for i := 0; i < 2; i++ {
		w := h.next(everything, "")
		tr := trace(w.PushID, upTo("i1", 3, timapi.StageDevice))
		if w.PushID == "devicey" {
			tr = trace(w.PushID, upTo("i1", 3, timapi.StageChannel))
		}
		res := h.l.Done(w, tr)
		if res.Tried[NoTrace] != 1 || res.Revealed[NoTrace] != 1 {
			t.Fatalf("%s: %+v, want the empty trace's NoTrace tried and revealed", w.PushID, res)
		}
	}
	h.offer("fresh")
	h.clock.Advance(25 * time.Minute) // both requeries due at 30m, fresh's first query too

	clicksCheap := policyFunc(func(c Class) float64 {
		switch {
		case c.Step == 0:
			return 3
		case c.Missing[timapi.StageDevice] > 0:
			return 4 // a device outcome is worth more than a first query here
		}
		return 0 // clicks are worth nothing
	})
	if w := h.next(clicksCheap, "devicey"); w.Step != 2 || !w.Displacing {
		t.Fatalf("devicey: step %d displacing %v, want the 30m requery, displacing a due first query", w.Step, w.Displacing)
	} else {
		h.l.Drop(w, "test")
	}
	// clicky's class yields nothing: it skips its last requery and is finished.
	if w := h.next(clicksCheap, "fresh"); w.Step != 0 {
		t.Fatalf("fresh: step %d", w.Step)
	}
	if h.pending() != 1 {
		t.Fatalf("pending = %d, want only fresh (clicky finished, devicey dropped)", h.pending())
	}
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mUnreported, app: "prod", platform: "huawei", stage: "click"}); got != 1 {
		t.Fatalf("unreported click = %v, want 1 (clicky)", got)
	}
}

type policyFunc func(Class) float64

func (f policyFunc) Yield(c Class) float64 { return f(c) }

// TestFirstQueriesInOrderThenFreshestFirst: due first queries go in order
// while fresh; once late (a backlog), the freshest goes first.
func TestFirstQueriesInOrderThenFreshestFirst(t *testing.T) {
	h := newHarness(t, "", func(a *AppConfig) { a.RequeryAfter = nil })
	for i := 1; i <= 3; i++ {
		h.offer(fmt.Sprintf("p%d", i))
		h.clock.Advance(time.Second)
	}
	h.clock.Advance(time.Minute)
	h.l.Done(h.next(everything, "p1"), trace("p1"))
	h.clock.Advance(2 * time.Minute) // p2 and p3 are late now
	h.l.Done(h.next(everything, "p3"), trace("p3"))
	h.l.Done(h.next(everything, "p2"), trace("p2"))
	h.none(everything)
}

// TestQueueFullDropsOldestAcrossRestart: max_pending drops the oldest
// never-queried PushID, also after a restart (the state file's key order is
// not arrival order).
func TestQueueFullDropsOldestAcrossRestart(t *testing.T) {
	h := newHarness(t, "", func(a *AppConfig) { a.MaxPending = 3 })
	for _, id := range []string{"zz", "mm", "aa"} { // arrival order is not key order
		h.offer(id)
		h.clock.Advance(time.Second)
	}
	h.checkpoint()
	h = h.reopen(func(a *AppConfig) { a.MaxPending = 3 })
	h.offer("new")
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mDropped, app: "prod", extra: "queue_full"}); got != 1 {
		t.Fatalf("dropped = %v, want 1", got)
	}
	h.clock.Advance(time.Hour)
	var order []string
	for w, ok, _ := h.l.Next("prod", h.clock.Now(), everything); ok; w, ok, _ = h.l.Next("prod", h.clock.Now(), everything) {
		order = append(order, w.PushID)
		h.l.Drop(w, "test")
	}
	if fmt.Sprint(order) != "[new aa mm]" {
		t.Fatalf("left after the drop (freshest first): %v, want [new aa mm]: zz, the oldest, was dropped", order)
	}
}

func TestExpiredAfterSevenDays(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("old")
	h.clock.Advance(retention + time.Hour)
	h.none(everything)
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mDropped, app: "prod", extra: "expired"}); got != 1 {
		t.Fatalf("expired = %v, want 1", got)
	}
}

func TestDuplicatesIgnoredForSevenDays(t *testing.T) {
	h := newHarness(t, "", func(a *AppConfig) { a.RequeryAfter = nil })
	h.offer("p1", "p1")
	h.clock.Advance(time.Minute)
	h.l.Done(h.next(everything, "p1"), trace("p1"))
	h.offer("p1")
	h.checkpoint()
	h = h.reopen(nil)
	h.offer("p1")
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mDuplicates, app: "prod"}); got != 3 {
		t.Fatalf("duplicates = %v, want 3 (pending, finished, after a restart)", got)
	}
	if got := h.counter(seriesKey{metric: mSampled, app: "prod"}); got != 1 {
		t.Fatalf("sampled = %v, want 1", got)
	}
	if got := h.counter(seriesKey{metric: mReceived, app: "prod", extra: "file"}); got != 4 {
		t.Fatalf("received = %v, want 4", got)
	}
}

func TestErrorCodeCap(t *testing.T) {
	h := newHarness(t, "", func(a *AppConfig) { a.RequeryAfter = nil })
	h.l.opts.MaxErrorCodes = 2
	for i, code := range []int{91, 92, 93, 91} {
		id := fmt.Sprintf("p%d", i)
		h.offer(id)
		h.clock.Advance(time.Minute)
		in := upTo("i", 6, timapi.StageOffline)
		in.Stages[timapi.StageChannel] = stat(fail, code, t0)
		h.l.Done(h.next(everything, id), trace(id, in))
	}
	h.checkpoint()
	for code, want := range map[string]float64{"91": 2, "92": 1, "other": 1} {
		k := seriesKey{metric: mFailures, app: "prod", platform: "oppo", stage: "channel", extra: code, reason: "unknown"}
		if got := h.counter(k); got != want {
			t.Errorf("error_code %s = %v, want %v", code, got, want)
		}
	}
}

func TestRetryAndDrop(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("p1")
	h.clock.Advance(time.Minute)
	w := h.next(everything, "p1")
	if n := h.l.Retry(w, h.clock.Now().Add(30*time.Second)); n != 1 {
		t.Fatalf("failures = %d, want 1", n)
	}
	h.none(everything)
	h.clock.Advance(30 * time.Second)
	w = h.next(everything, "p1")
	if w.Failures != 1 || w.Step != 0 {
		t.Fatalf("retried work: %+v", w)
	}
	h.l.Drop(w, "errors")
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mDropped, app: "prod", extra: "errors"}); got != 1 {
		t.Fatalf("dropped = %v", got)
	}
	// A work item given back twice is ignored the second time.
	h.l.Drop(w, "errors")
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mDropped, app: "prod", extra: "errors"}); got != 1 {
		t.Fatalf("dropped twice: %v", got)
	}
}

// TestRemovedAppsWorkIsIgnored: work taken before its app was removed
// changes nothing when it comes back.
func TestRemovedAppsWorkIsIgnored(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("p1", "p2")
	h.clock.Advance(time.Minute)
	w := h.next(everything, "p1")
	h.l.SetApps(nil)
	if res := h.l.Done(w, trace("p1", upTo("i", 1, timapi.StageDevice))); res.New != 0 {
		t.Fatalf("counted %d outcomes of a removed app", res.New)
	}
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mDropped, app: "prod", extra: "app_removed"}); got != 2 {
		t.Fatalf("app_removed = %v, want 2", got)
	}
}

// TestDedupCapForgetsTheOldestHour: past MaxDedup the dedup set forgets its
// oldest hour whole (README: a PushID of that hour offered again is traced
// again), and remembers every later one.
func TestDedupCapForgetsTheOldestHour(t *testing.T) {
	h := newHarness(t, "", nil)
	h.l.books["prod"].dedup = newTimeSet(time.Hour, 3, retention)

	h.offer("a")
	h.clock.Advance(time.Minute)
	w := h.next(everything, "a")
	in := upTo("i1", 3, timapi.StageChannel)
	in.Stages[timapi.StageDevice] = stat(fail, 80300007, t0.Add(40*time.Second))
	if res := h.l.Done(w, trace("a", in)); res.More {
		t.Fatalf("a: %+v, want the push finished", res)
	}
	h.clock.Advance(time.Hour)
	h.offer("b", "c")
	h.clock.Advance(time.Hour)
	h.offer("d") // a fourth entry: a's hour is forgotten

	h.offer("a", "b")
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mSampled, app: "prod"}); got != 5 {
		t.Errorf("sampled = %v, want 5: a, b, c, d, then a again", got)
	}
	if got := h.counter(seriesKey{metric: mDuplicates, app: "prod"}); got != 1 {
		t.Errorf("duplicates = %v, want 1: b, still remembered", got)
	}
	if n := h.pending(); n != 4 {
		t.Errorf("pending = %d, want 4 (b, c, d and a again)", n)
	}
}

package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

func (h *harness) sampled() float64 {
	for _, f := range h.l.Snapshot().Families() {
		if f.Name() == "timpush_exporter_pushids_sampled_total" {
			s, _ := f.Lookup("a")
			return s.Value
		}
	}
	return 0
}

// TestAutoSampleFillsBudgetWithFirstQueries streams PushIDs far faster
// than 1 call/s can trace: the automatic ratio settles where first queries
// fill 90 % of the budget (requeries for clicks that never come use only
// the slack, so they do not lower the ratio), and follows a tenfold surge
// down at once.
func TestAutoSampleFillsBudgetWithFirstQueries(t *testing.T) {
	h := newHarness(t, deliveredNeverClicked, func(a *App) { a.AutoSample = true })
	h.run(600, 100) // settle
	from, before := h.clock.Now(), h.sampled()
	h.run(600, 100)
	calls := h.callsSince(from)
	ratio := h.s.States()["a"].SampleRatio
	t.Logf("100/s: ratio %.4f, %.3f sampled/s, calls %v in 600 s", ratio, (h.sampled()-before)/600, calls)
	if r := ratio; r < 0.0085 || r > 0.0095 {
		t.Errorf("ratio = %.4f, want about 0.009 (0.9 first queries/s over 100 PushIDs/s)", r)
	}
	if f := calls[timapi.PurposeFirst]; f < 0.85*600 {
		t.Errorf("%d first queries in 600 s, want about 0.9/s", f)
	}
	if n := calls[timapi.PurposeFirst] + calls[timapi.PurposeRequery]; n > 601 {
		t.Errorf("%d calls in 600 s: over the budget", n)
	}

	h.run(10, 1000) // a tenfold surge
	if r := h.s.States()["a"].SampleRatio; r > 0.0012 {
		t.Errorf("ratio 10 s into a tenfold surge = %.4f, want it cut to about a tenth", r)
	}
}

// TestAutoSampleCountsEachPushOnce: every push announced three times (a
// log line and two callback events, say) is sampled at the same ratio as
// when announced once.
func TestAutoSampleCountsEachPushOnce(t *testing.T) {
	h := newHarness(t, deliveredNeverClicked, func(a *App) { a.AutoSample = true })
	repeat := func(seconds, perSecond int) {
		for range seconds {
			first := h.n
			h.offer(perSecond)
			for range 2 { // the same PushIDs again
				h.n = first
				h.offer(perSecond)
			}
			h.s.Step(context.Background(), "a")
			h.clock.Advance(time.Second)
			h.s.Tune()
			if err := h.l.Checkpoint(); err != nil {
				t.Fatal(err)
			}
		}
	}
	repeat(1200, 100)
	if r := h.s.States()["a"].SampleRatio; r < 0.0080 || r > 0.0095 {
		t.Fatalf("ratio = %.4f with every push announced three times, want about 0.009 as with one announcement", r)
	}
}

// TestAutoSampleBurst offers 100,000 PushIDs at one instant (a log read
// from its beginning): the ratio is cut within the first hundred.
func TestAutoSampleBurst(t *testing.T) {
	h := newHarness(t, deliveredNeverClicked, func(a *App) { a.AutoSample = true })
	h.offer(100_000)
	if err := h.l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if n := h.sampled(); n > 200 {
		t.Fatalf("%v of a 100,000-PushID burst sampled, want the ratio cut within the first hundred", n)
	}
}

// TestAutoSampleCountsDisplacingRequeries: requeries worth more than a
// first query compete with first queries, and the ratio makes room for
// them.
func TestAutoSampleCountsDisplacingRequeries(t *testing.T) {
	a := newAutoSampler(t0)
	for range 100 {
		a.called()
		a.firstDone()
	}
	cheap := a.callsPerPush()
	for range 100 {
		a.called() // a displacing requery per push
	}
	if dear := a.callsPerPush(); dear < 1.8*cheap {
		t.Fatalf("calls per push %.2f with a displacing requery each, %.2f without: want about twice", dear, cheap)
	}
}

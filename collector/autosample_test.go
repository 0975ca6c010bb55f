package collector

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pacer"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// pacedTracer answers at once with a complete trace, after waiting on a
// real pacer driven by the fake clock: a stand-in for a 1 call/s API.
type pacedTracer struct {
	p     *pacer.Pacer
	clock *clock.Fake
	calls int
	first map[string]time.Time // first query of each PushID
}

func (t *pacedTracer) Trace(ctx context.Context, id string) (*timapi.Trace, error) {
	done, err := t.p.Wait(ctx)
	if err != nil {
		return nil, err
	}
	done(t.clock.Now(), t.clock.Now()) // answered at once
	t.calls++
	if _, ok := t.first[id]; !ok {
		t.first[id] = t.clock.Now()
	}
	return trace(id, instance("i", 2, stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0))), nil
}

// TestAutoSampleFillsBudget streams PushIDs far faster than 1 call/s can
// trace and checks that the automatic ratio settles where the calls fill
// the budget, follows a tenfold surge down within a minute, and keeps the
// backlog short.
func TestAutoSampleFillsBudget(t *testing.T) {
	fake := clock.NewFake(t0)
	tr := &pacedTracer{p: pacer.New(1, fake), clock: fake, first: map[string]time.Time{}}
	offered := map[string]time.Time{}
	c := New(Options{Clock: fake, CheckpointInterval: time.Second}, prometheus.NewRegistry())
	c.SetApps([]App{{Name: "a", AutoSample: true, QueryDelay: 10 * time.Second,
		RequeryAfter: []time.Duration{time.Minute, 5 * time.Minute}, MaxPending: 100000, RateLimit: 1, Tracer: tr}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	n := 0
	run := func(seconds, perSecond int) (sampled float64, calls int) {
		c.mu.Lock()
		before := c.series.counters[seriesKey{metric: mSampled, app: "a"}]
		c.mu.Unlock()
		callsBefore := tr.calls
		for s := 0; s < seconds; s++ {
			ids := make([]pushid.ID, perSecond)
			for i := range ids {
				n++
				ids[i] = pushid.ID{App: "a", PushID: fmt.Sprintf("id-%d", n), Source: "file", Seen: fake.Now()}
				offered[ids[i].PushID] = fake.Now()
			}
			offer(c, ids, nil)
			end := fake.Now().Add(time.Second)
			for {
				fake.BlockUntil(2) // worker and checkpoint loop both wait on the clock
				next, _ := fake.NextDeadline()
				if next.After(end) {
					fake.Set(end)
					break
				}
				fake.Set(next)
			}
		}
		fake.BlockUntil(2)
		c.mu.Lock()
		after := c.series.counters[seriesKey{metric: mSampled, app: "a"}]
		c.mu.Unlock()
		return after - before, tr.calls - callsBefore
	}
	ratio := func() float64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.apps["a"].ratio()
	}

	// firstQueryDelays returns, for PushIDs offered in [from, to) and
	// queried, the worst time from being seen to the first query.
	worstDelay := func(from, to time.Time) (worst time.Duration, queried int) {
		for id, at := range offered {
			q, ok := tr.first[id]
			if !ok || at.Before(from) || !at.Before(to) {
				continue
			}
			queried++
			worst = max(worst, q.Sub(at))
		}
		return worst, queried
	}

	run(300, 100) // settle
	steadyFrom := fake.Now()
	sampled, calls := run(300, 100)
	budget := 1.0 // rate_limit 1
	t.Logf("100/s: ratio %.4f, %.2f sampled/s, %.3f calls/s", ratio(), sampled/300, float64(calls)/300)
	// Complete traces cost one call each: the calls are the sampled
	// PushIDs, 90 % of the budget (the rest is headroom for bursts).
	if got := float64(calls); got < 0.85*budget*300 || got > budget*300+1 {
		t.Errorf("%v calls in 300 s, want 90 %% of the budget (%.3f/s)", got, budget)
	}
	if r := ratio(); r < 0.008 || r > 0.0095 {
		t.Errorf("ratio = %.4f, want about 0.009 (0.9 calls/s over 100 PushIDs/s at one call each)", r)
	}

	// Steady state: every sampled PushID is first queried within
	// query_delay + 60 s (the last minute's may still be waiting).
	worst, queried := worstDelay(steadyFrom, fake.Now().Add(-70*time.Second))
	t.Logf("steady: %d PushIDs queried, worst first-query delay %v", queried, worst)
	if queried < 150 || worst > 70*time.Second {
		t.Errorf("steady state: %d queried, worst first-query delay %v; want every one within query_delay + 60 s", queried, worst)
	}

	run(10, 1000) // a tenfold surge
	if r := ratio(); r > 0.0012 {
		t.Errorf("ratio 10 s into a tenfold surge = %.4f, want it cut to about a tenth", r)
	}
	run(60, 1000) // the work that piled up in those 10 s is served or late by now
	surgeFrom := fake.Now()
	run(300, 1000)
	worst, queried = worstDelay(surgeFrom, fake.Now().Add(-70*time.Second))
	t.Logf("surge: ratio %.5f, %d PushIDs queried, worst first-query delay %v", ratio(), queried, worst)
	if worst > 70*time.Second {
		t.Errorf("after the surge was absorbed, worst first-query delay %v, want within query_delay + 60 s", worst)
	}
}

// TestAutoSampleBurst offers 100,000 PushIDs at one instant (a log read
// from its beginning): the ratio must be cut after the first hundred, not
// five seconds later.
func TestAutoSampleBurst(t *testing.T) {
	fake := clock.NewFake(t0)
	c := New(Options{Clock: fake}, prometheus.NewRegistry())
	c.SetApps([]App{{Name: "a", AutoSample: true, QueryDelay: time.Minute,
		RequeryAfter: []time.Duration{5 * time.Minute}, MaxPending: 1_000_000, RateLimit: 1, Tracer: &pacedTracer{}}})
	ids := make([]pushid.ID, 100_000)
	for i := range ids {
		ids[i] = pushid.ID{App: "a", PushID: fmt.Sprintf("burst-%d", i), Source: "file", Seen: fake.Now()}
	}
	offer(c, ids, nil)
	c.mu.Lock()
	sampledN := c.series.counters[seriesKey{metric: mSampled, app: "a"}]
	c.mu.Unlock()
	if sampledN > 200 {
		t.Fatalf("%v of a 100,000-PushID burst sampled, want the ratio cut after the first %d", sampledN, source.AskEvery)
	}
	t.Logf("%v of 100,000 sampled", sampledN)
}

// TestAutoSampleLearnsCallsPerPush: the cost of a sampled push is learnt
// per query step as soon as that step's queries are seen, counting unknown
// steps as always needing another query (so the ratio starts careful), and
// failed calls on top.
func TestAutoSampleLearnsCallsPerPush(t *testing.T) {
	a := newAutoSampler(2, t0) // first query + requeries at two offsets
	if got := a.callsPerPush(); got != 3 {
		t.Fatalf("before any query: %v calls per push, want 3 (every step assumed)", got)
	}
	for i := range 20 {
		a.called()
		a.queried(0, i%2 == 0) // half the pushes need a requery
	}
	if got := a.callsPerPush(); got != 2 {
		t.Fatalf("first step learnt: %v calls per push, want 1 + 0.5 + 0.5 = 2 (the last step unknown)", got)
	}
	for i := range 10 {
		a.called()
		a.queried(1, i%5 == 0) // a fifth of those need the last one
	}
	want := 1 + 0.5 + 0.5*0.2
	if got := a.callsPerPush(); math.Abs(got-want) > 1e-9 {
		t.Fatalf("two steps learnt: %v calls per push, want %v", got, want)
	}
	for range 30 {
		a.called() // failed calls: as many as successful queries
	}
	if got := a.callsPerPush(); math.Abs(got-2*want) > 1e-9 {
		t.Fatalf("with half the calls failing: %v calls per push, want %v", got, 2*want)
	}
}

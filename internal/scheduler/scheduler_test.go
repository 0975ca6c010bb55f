package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// deliveredNeverClicked is a trace with every stage but the click, which
// most pushes never get.
func deliveredNeverClicked(id string, _ time.Time) (*timapi.Trace, error) {
	return &timapi.Trace{PushID: id, Instances: []timapi.Instance{inst(3, timapi.StageDevice)}}, nil
}

func (h *harness) callsSince(from time.Time) map[timapi.Purpose]int {
	out := map[timapi.Purpose]int{}
	for _, c := range h.tracer.calls {
		if !c.at.Before(from) {
			out[c.purpose]++
		}
	}
	return out
}

// TestClicksAreNotOwed: a push that waits only for a click is requeried
// only while that pays. Once the requeries for clicks are learnt to reveal
// nothing, the budget goes to first queries (issue: two thirds of the calls
// were requeries waiting for clicks).
func TestClicksAreNotOwed(t *testing.T) {
	h := newHarness(t, deliveredNeverClicked, nil)
	for range 3600 / 2 {
		h.run(1, 1)
		h.run(1, 0) // one push every 2 s: half the budget
	}
	from := h.clock.Now()
	for range 1800 / 2 {
		h.run(1, 1)
		h.run(1, 0)
	}
	calls := h.callsSince(from)
	t.Logf("last 30 min: %v", calls)
	if calls[timapi.PurposeFirst] < 880 {
		t.Errorf("%d first queries in 30 min at 0.5 pushes/s, want every push's", calls[timapi.PurposeFirst])
	}
	if r := calls[timapi.PurposeRequery]; r > calls[timapi.PurposeFirst]/20 {
		t.Errorf("%d requeries for clicks that never come, against %d first queries: want under 5 %%", r, calls[timapi.PurposeFirst])
	}
}

// TestLateDevicesAreRequeried: when device arrival is reported minutes
// after the push, the requery that reveals it pays, and is made.
func TestLateDevicesAreRequeried(t *testing.T) {
	seen := map[string]time.Time{}
	answer := func(id string, now time.Time) (*timapi.Trace, error) {
		if _, ok := seen[id]; !ok {
			seen[id] = now.Add(-time.Minute) // first queried at query_delay
		}
		last := timapi.StageChannel
		if now.Sub(seen[id]) >= 3*time.Minute {
			last = timapi.StageDevice
		}
		return &timapi.Trace{PushID: id, Instances: []timapi.Instance{inst(3, last)}}, nil
	}
	h := newHarness(t, answer, nil)
	for range 1800 {
		h.run(1, 0)
		h.run(1, 1)
		h.run(1, 0)
	}
	h.run(600, 0)
	stages := h.l.Snapshot().Families()
	var device, channel float64
	for _, f := range stages {
		if f.Name() != "push_stage_total" {
			continue
		}
		s, _ := f.Lookup("a", "huawei", "device")
		device = s.Value
		s, _ = f.Lookup("a", "huawei", "channel")
		channel = s.Value
	}
	if channel < 1790 || device < 0.95*channel {
		t.Fatalf("device outcomes %v of %v channel outcomes: want nearly every late device report requeried", device, channel)
	}
}

// TestFirstQueryBeatsRequery: a due first query goes before a due requery
// that is expected to reveal less.
func TestFirstQueryBeatsRequery(t *testing.T) {
	h := newHarness(t, func(id string, _ time.Time) (*timapi.Trace, error) {
		return &timapi.Trace{PushID: id, Instances: []timapi.Instance{inst(3, timapi.StageChannel)}}, nil
	}, nil)
	h.offer(1)
	h.clock.Advance(time.Minute)
	h.s.Step(context.Background(), "a") // first query of id-1
	h.clock.Advance(4 * time.Minute)
	h.offer(1)
	h.clock.Advance(time.Minute) // id-1's requery is due, id-2's first query too
	h.s.Step(context.Background(), "a")
	if last := h.tracer.calls[len(h.tracer.calls)-1]; last.id != "id-2" || last.purpose != timapi.PurposeFirst {
		t.Fatalf("made %+v, want id-2's first query before id-1's requery", last)
	}
	h.s.Step(context.Background(), "a")
	if last := h.tracer.calls[len(h.tracer.calls)-1]; last.id != "id-1" || last.purpose != timapi.PurposeRequery {
		t.Fatalf("then made %+v, want id-1's requery", last)
	}
	if got := testutil.ToFloat64(h.s.metrics.outcomes.WithLabelValues("a", string(timapi.PurposeFirst))); got != 6 {
		t.Errorf("outcomes of first queries = %v, want 6 (im, offline, channel of two pushes)", got)
	}
	if got := testutil.ToFloat64(h.s.metrics.yielding.WithLabelValues("a", string(timapi.PurposeRequery))); got != 0 {
		t.Errorf("requeries that yielded = %v, want 0 (nothing new)", got)
	}
}

func apiError(class timapi.Class) error { return &timapi.Error{Class: class, Code: 1} }

// TestErrorClasses: what each kind of failure does to the PushID and the app.
func TestErrorClasses(t *testing.T) {
	for _, tt := range []struct {
		name    string
		err     error
		result  string
		dropped string // reason, after the first failure ("" none)
		paused  bool
	}{
		{"config error pauses the app and keeps the PushID", apiError(timapi.ClassConfig), "config_error", "", true},
		{"a rejected PushID is dropped", apiError(timapi.ClassBadRequest), "dropped", "rejected", false},
		{"a transient error is retried", apiError(timapi.ClassTransient), "error", "", false},
		{"an unexpected reply is retried", apiError(timapi.ClassUnexpectedReply), "unexpected_reply", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(string, time.Time) (*timapi.Trace, error) { return nil, tt.err }, nil)
			h.offer(1)
			h.clock.Advance(time.Minute)
			next, called := h.s.Step(context.Background(), "a")
			if !called {
				t.Fatal("no call")
			}
			if got := testutil.ToFloat64(h.s.metrics.queries.WithLabelValues("a", tt.result)); got != 1 {
				t.Errorf("trace_queries_total{result=%q} = %v", tt.result, got)
			}
			if paused := next.After(h.clock.Now()); paused != tt.paused {
				t.Errorf("paused = %v (next call at %v), want %v", paused, next.Sub(h.clock.Now()), tt.paused)
			}
			if up := h.s.States()["a"].Up; up == tt.paused {
				t.Errorf("up = %v", up)
			}
			n, _ := h.l.Pending("a")
			if want := tt.dropped == ""; (n == 1) != want {
				t.Errorf("pending = %d", n)
			}
		})
	}
}

// TestGivesUpAfterRepeatedFailures: ten failed rounds drop the PushID,
// counted under the failure's reason; replies of an unexpected shape in a
// row pause the app.
func TestGivesUpAfterRepeatedFailures(t *testing.T) {
	h := newHarness(t, func(string, time.Time) (*timapi.Trace, error) { return nil, apiError(timapi.ClassUnexpectedReply) }, nil)
	h.offer(1)
	h.run(3*3600, 0)
	if n, _ := h.l.Pending("a"); n != 0 {
		t.Fatalf("pending = %d after ten failed rounds, want the PushID given up", n)
	}
	if got := len(h.tracer.calls); got != 10 {
		t.Errorf("%d calls, want 10 rounds", got)
	}
	if h.s.States()["a"].Up {
		t.Error("app up after replies of an unexpected shape in a row, want paused")
	}
	if err := h.l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	for _, f := range h.l.Snapshot().Families() {
		if f.Name() == "timpush_exporter_pushids_dropped_total" {
			if s, _ := f.Lookup("a", "unexpected_reply"); s.Value != 1 {
				t.Errorf("dropped{reason=unexpected_reply} = %v", s.Value)
			}
		}
	}
}

// TestRemovedAppIsAwaited: removing an app stops its worker, and SetApps
// returns only once the worker's call in flight has returned.
func TestRemovedAppIsAwaited(t *testing.T) {
	h := newHarness(t, nil, nil)
	entered, returned := make(chan struct{}), make(chan struct{})
	h.s.SetApps([]App{func() App {
		a := testApp(blockingTracer{entered, returned})
		a.Ledger.QueryDelay = 0
		return a
	}()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.s.Run(ctx) }()
	h.offer(1)
	<-entered
	h.s.SetApps(nil)
	select {
	case <-returned:
	default:
		t.Fatal("SetApps returned while the removed app's call was still in flight")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type blockingTracer struct{ entered, returned chan struct{} }

func (b blockingTracer) Trace(ctx context.Context, _ string) (*timapi.Trace, error) {
	close(b.entered)
	<-ctx.Done()
	close(b.returned)
	return nil, ctx.Err()
}

var _ ledger.Policy = (*learner)(nil)
var _ = errors.New

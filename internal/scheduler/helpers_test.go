package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// funcTracer answers each query with a function of the PushID and the
// time, and records the calls with their purpose.
type funcTracer struct {
	clock  clock.Clock
	answer func(id string, now time.Time) (*timapi.Trace, error)
	calls  []call
}

type call struct {
	id      string
	purpose timapi.Purpose
	at      time.Time
}

func (f *funcTracer) Trace(ctx context.Context, id string) (*timapi.Trace, error) {
	f.calls = append(f.calls, call{id, timapi.PurposeOf(ctx), f.clock.Now()})
	return f.answer(id, f.clock.Now())
}

// harness is a scheduler over a ledger (no state file) with one app, run
// step by step on a fake clock: one call per simulated second at most,
// like a 1 call/s pacer.
type harness struct {
	t      *testing.T
	clock  *clock.Fake
	l      *ledger.Ledger
	s      *Scheduler
	tracer *funcTracer
	n      int
}

func testApp(tr Tracer) App {
	return App{Name: "a", SampleRatio: 1, RateLimit: 1, Tracer: tr, Ledger: ledger.AppConfig{
		QueryDelay: time.Minute, RequeryAfter: []time.Duration{5 * time.Minute, 30 * time.Minute}, MaxPending: 100000}}
}

func newHarness(t *testing.T, answer func(id string, now time.Time) (*timapi.Trace, error), edit func(*App)) *harness {
	t.Helper()
	fake := clock.NewFake(t0)
	h := &harness{t: t, clock: fake, tracer: &funcTracer{clock: fake, answer: answer}}
	h.l = ledger.New(ledger.Options{Clock: fake})
	h.s = New(h.l, Options{Clock: fake})
	app := testApp(h.tracer)
	if edit != nil {
		edit(&app)
	}
	h.s.SetApps([]App{app})
	return h
}

// offer hands n new PushIDs to the pipeline as a source would.
func (h *harness) offer(n int) {
	ids := make([]pushid.ID, n)
	for i := range ids {
		h.n++
		ids[i] = pushid.ID{App: "a", PushID: fmt.Sprintf("id-%d", h.n), Source: pushid.SourceFile, Seen: h.clock.Now()}
	}
	kept, received := source.Sample(h.l, ids)
	h.l.Offer(source.Batch{IDs: kept, Received: received})
}

// run simulates seconds, offering perSecond PushIDs at the start of each
// and making at most one call in each; it retunes and checkpoints as the
// checkpoint loop would.
func (h *harness) run(seconds, perSecond int) {
	for range seconds {
		h.offer(perSecond)
		h.s.Step(context.Background(), "a")
		h.clock.Advance(time.Second)
		h.s.Tune()
		if err := h.l.Checkpoint(); err != nil {
			h.t.Fatal(err)
		}
	}
}

func inst(p int, last timapi.Stage) timapi.Instance {
	in := timapi.Instance{InstanceID: "i", PushPlatform: p, PushTime: t0, NotificationStatus: 1}
	for s := timapi.StageIM; s <= last; s++ {
		in.Stages[s] = timapi.StageResult{Status: timapi.StatusSuccess, EventTime: t0}
	}
	return in
}

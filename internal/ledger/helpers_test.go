package ledger

import (
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

var (
	ok   = timapi.StatusSuccess
	fail = timapi.StatusFailure
)

// fixed is a Policy: first queries yield first, requeries perStage per
// missing stage.
type fixed struct{ first, perStage float64 }

func (f fixed) Yield(c Class) float64 {
	if c.Step == 0 {
		return f.first
	}
	y := 0.0
	for _, m := range c.Missing {
		y += m * f.perStage
	}
	return y
}

var everything = fixed{first: 5, perStage: 1}

func testApp() AppConfig {
	return AppConfig{Name: "prod", QueryDelay: time.Minute,
		RequeryAfter: []time.Duration{5 * time.Minute, 30 * time.Minute}, MaxPending: 100}
}

// book is a ledger with one app on a fake clock, with a real state file in
// dir (a new temp dir when empty).
type harness struct {
	t     *testing.T
	clock *clock.Fake
	l     *Ledger
	st    *store.Store
	dir   string
}

func newHarness(t *testing.T, dir string, edit func(*AppConfig)) *harness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, _, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, clock: clock.NewFake(t0), st: st, dir: dir}
	h.l = New(Options{Clock: h.clock, Store: st})
	app := testApp()
	if edit != nil {
		edit(&app)
	}
	h.l.SetApps([]AppConfig{app})
	if err := h.l.Restore(); err != nil {
		t.Fatal(err)
	}
	return h
}

// reopen is a restart: the state file closed and opened again, the clock
// where it was. What was not checkpointed is lost, as after kill -9.
func (h *harness) reopen(edit func(*AppConfig)) *harness {
	h.t.Helper()
	h.st.Close()
	h2 := newHarness(h.t, h.dir, edit)
	h2.clock.Set(h.clock.Now())
	return h2
}

func (h *harness) offer(ids ...string) {
	h.t.Helper()
	var b source.Batch
	for _, id := range ids {
		b.IDs = append(b.IDs, pushid.ID{App: "prod", PushID: id, Source: pushid.SourceFile, Seen: h.clock.Now()})
	}
	b.Received = []pushid.Count{{App: "prod", Source: pushid.SourceFile, N: len(ids)}}
	h.l.Offer(b)
}

func (h *harness) checkpoint() {
	h.t.Helper()
	if err := h.l.Checkpoint(); err != nil {
		h.t.Fatal(err)
	}
}

// next takes the next due work, which must be pushID's ("" for any).
func (h *harness) next(pol Policy, pushID string) Work {
	h.t.Helper()
	w, ok, _ := h.l.Next("prod", h.clock.Now(), pol)
	if !ok {
		h.t.Fatalf("nothing due at %s, want %q", h.clock.Now().Sub(t0), pushID)
	}
	if pushID != "" && w.PushID != pushID {
		h.t.Fatalf("due: %q (step %d), want %q", w.PushID, w.Step, pushID)
	}
	return w
}

// none checks that nothing is due.
func (h *harness) none(pol Policy) {
	h.t.Helper()
	if w, ok, _ := h.l.Next("prod", h.clock.Now(), pol); ok {
		h.t.Fatalf("due at %s: %q (step %d), want nothing", h.clock.Now().Sub(t0), w.PushID, w.Step)
	}
}

// counter returns a saved (served) counter value.
func (h *harness) counter(k seriesKey) float64 {
	s, _ := h.l.Snapshot().family(k.metric).Lookup(k.labelValues()...)
	return s.Value
}

func (h *harness) pending() int {
	n, _ := h.l.Pending("prod")
	return n
}

func stat(status timapi.Status, code int, at time.Time) timapi.StageResult {
	return timapi.StageResult{Status: status, ErrorCode: code, EventTime: at}
}

// inst builds an instance on platform p whose stages are given in order
// im, offline, channel, device, click (missing ones unreported).
func inst(id string, p int, stages ...timapi.StageResult) timapi.Instance {
	in := timapi.Instance{InstanceID: id, PushPlatform: p, PushTime: t0, NotificationStatus: 1}
	copy(in.Stages[:], stages)
	return in
}

func trace(id string, in ...timapi.Instance) *timapi.Trace {
	return &timapi.Trace{PushID: id, Instances: in}
}

// upTo returns an instance on platform p whose stages up to and including
// last succeeded.
func upTo(id string, p int, last timapi.Stage) timapi.Instance {
	var st []timapi.StageResult
	for s := timapi.StageIM; s <= last; s++ {
		st = append(st, stat(ok, 0, t0.Add(time.Duration(s)*time.Second)))
	}
	return inst(id, p, st...)
}

func hashOf(id string) uint64 { return pushid.Hash(id) }

package collector

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/exposition"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// fakeTracer hands each query to the test, which answers it: the test, not
// a timer, decides when a call completes.
type fakeTracer struct {
	reqs chan *traceReq
}

type traceReq struct {
	pushID string
	reply  chan traceReply
}

type traceReply struct {
	tr  *timapi.Trace
	err error
}

func newFakeTracer() *fakeTracer { return &fakeTracer{reqs: make(chan *traceReq)} }

func (f *fakeTracer) Trace(ctx context.Context, pushID string) (*timapi.Trace, error) {
	r := &traceReq{pushID: pushID, reply: make(chan traceReply, 1)}
	select {
	case f.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case rep := <-r.reply:
		return rep.tr, rep.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// expect waits for the next query and checks its PushID.
func (f *fakeTracer) expect(t *testing.T, pushID string) *traceReq {
	t.Helper()
	select {
	case r := <-f.reqs:
		if pushID != "" && r.pushID != pushID {
			t.Fatalf("queried %q, want %q", r.pushID, pushID)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("no query for %q", pushID)
		return nil
	}
}

func (r *traceReq) answer(tr *timapi.Trace, err error) { r.reply <- traceReply{tr, err} }

// idle waits until the worker has handled its last answer and sleeps (its
// timer plus the checkpoint loop's), so the test may move the clock.
func (h *harness) idle() { h.clock.BlockUntil(2) }

type harness struct {
	t      *testing.T
	clock  *clock.Fake
	tracer *fakeTracer
	c      *Collector
	reg    *prometheus.Registry
	store  *store.Store
	dir    string
	cancel context.CancelFunc
	done   chan error
}

func testApp(tr Tracer) App {
	return App{
		Name: "prod", SampleRatio: 1, QueryDelay: time.Minute,
		RequeryAfter: []time.Duration{5 * time.Minute, 30 * time.Minute},
		MaxPending:   100, RateLimit: 1, Tracer: tr,
	}
}

// newHarness starts a collector with a fake clock and tracer and a real
// state file in dir (a new temp dir when empty).
func newHarness(t *testing.T, dir string, edit func(*App)) *harness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, _, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: clock.NewFake(t0), tracer: newFakeTracer(), reg: prometheus.NewRegistry(), store: st, dir: dir}
	h.c = New(Options{Clock: h.clock, Store: st, CheckpointInterval: time.Hour}, h.reg)
	app := testApp(h.tracer)
	if edit != nil {
		edit(&app)
	}
	h.c.SetApps([]App{app})
	if err := h.c.Restore(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.c.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

// stop shuts the collector down cleanly (final checkpoint) and closes the file.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
	h.store.Close()
	h.cancel = nil
}

// crash stops the workers without the final checkpoint: what was not saved
// by an explicit checkpoint is lost, as after kill -9.
func (h *harness) crash() {
	h.c.store = nil // the final checkpoint writes nothing
	h.stop()
}

func (h *harness) offer(ids ...string) {
	h.t.Helper()
	var batch []pushid.ID
	for _, id := range ids {
		batch = append(batch, pushid.ID{App: "prod", PushID: id, Source: pushid.SourceFile, Seen: h.clock.Now()})
	}
	offer(h.c, batch, nil)
}

func (h *harness) checkpoint() {
	h.t.Helper()
	if err := h.c.checkpoint(); err != nil {
		h.t.Fatal(err)
	}
}

// counter returns a saved (served) counter value.
func (h *harness) counter(k seriesKey) float64 {
	s, _ := h.c.snap.Load().family(k.metric).Lookup(k.labelValues()...)
	return s.Value
}

// page returns app prod's value of a counter labelled by app (first) as
// /metrics serves it, read with Prometheus's text parser.
func (h *harness) page(name string) float64 {
	h.t.Helper()
	body := servePage(h.t, exposition.Handler(h.reg, h.c, exposition.HandlerOpts{}), []string{name})
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, m := range fams[name].GetMetric() {
		if m.GetLabel()[0].GetValue() == "prod" {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// served returns every saved (served) counter.
func (c *Collector) served() map[seriesKey]float64 {
	out := map[seriesKey]float64{}
	snap := c.snap.Load()
	for id := range savedDescs {
		for s := range snap.family(id).Samples() {
			if id != mLatency {
				out[keyOf(id, s.Labels)] = s.Value
			}
		}
	}
	return out
}

// keyOf is the inverse of seriesKey.labelValues.
func keyOf(id metricID, v []string) seriesKey {
	k := seriesKey{metric: id, app: v[0]}
	switch id {
	case mStage, mLatency, mUnreported:
		k.platform, k.stage = v[1], v[2]
	case mFailures:
		k.platform, k.stage, k.extra, k.reason = v[1], v[2], v[3], v[4]
	case mInstances, mNotificationDisabled:
		k.platform = v[1]
	case mReceived, mDropped:
		k.extra = v[1]
	}
	return k
}

func stat(status timapi.Status, code int, at time.Time) timapi.StageResult {
	return timapi.StageResult{Status: status, ErrorCode: code, EventTime: at}
}

// instance builds an instance on platform p whose stages are given in order
// im, offline, channel, device, click (missing ones unreported).
func instance(id string, p int, stages ...timapi.StageResult) timapi.Instance {
	in := timapi.Instance{InstanceID: id, PushPlatform: p, PushTime: t0, NotificationStatus: 1}
	for i, s := range stages {
		in.Stages[i] = s
	}
	return in
}

func trace(id string, in ...timapi.Instance) *timapi.Trace {
	return &timapi.Trace{PushID: id, Instances: in}
}

type cursorFor struct{ key, value string }

func (c cursorFor) cursor() *source.Cursor { return &source.Cursor{Key: c.key, Value: []byte(c.value)} }

// failures sums a failure series over its reason label.
func (h *harness) failures(platform, stage, code string) float64 {
	sum := 0.0
	for k, v := range h.c.served() {
		if k.metric == mFailures && k.platform == platform && k.stage == stage && k.extra == code {
			sum += v
		}
	}
	return sum
}

// offer hands ids to c as a source would: sampled at c's ratio, all of
// them counted as received.
func offer(c *Collector, ids []pushid.ID, cur *source.Cursor) {
	ids = append([]pushid.ID(nil), ids...)
	kept, received := source.Sample(c, ids)
	c.Offer(source.Batch{IDs: kept, Received: received, Cursor: cur})
}

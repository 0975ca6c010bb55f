package source

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/exportertest"
	"github.com/timpush/timpush_exporter/internal/pushid"
)

// whNow is the fake clock's time: the RequestTime of Tencent's test vector.
var whNow = time.Unix(1669872112, 0)

// whSink records offers and can fail or hold Durable.
type whSink struct {
	mu        sync.Mutex
	ratio     float64 // Ratio's answer for every app
	asked     []int   // Ratio's arrivals, call by call
	offered   []pushid.ID
	received  []pushid.Count
	events    []pushid.Event
	offers    int           // Offer calls
	durable   int           // Durable calls
	durableOK int           // Durable calls that returned nil
	err       error         // returned by Durable
	block     chan struct{} // if set, Durable waits for it to close (or ctx)
	entered   chan struct{} // if set, receives once per Durable call
}

func (s *whSink) Ratio(_ string, arrivals int) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, arrivals)
	return s.ratio, true
}

// Offer copies the batch: the webhook reuses its slices.
func (s *whSink) Offer(b Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.Cursor != nil {
		panic("webhook offered a cursor")
	}
	s.offers++
	s.offered = append(s.offered, b.IDs...)
	s.received = append(s.received, b.Received...)
	s.events = append(s.events, b.Events...)
}

func (s *whSink) Durable(ctx context.Context) error {
	s.mu.Lock()
	block, err, entered := s.block, s.err, s.entered
	s.durable++
	s.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.durableOK++
	s.mu.Unlock()
	return nil
}

func (s *whSink) Cursor(string) ([]byte, bool) { return nil, false }

func (s *whSink) Cursors(string) map[string][]byte { return nil }

func (s *whSink) state() ([]pushid.ID, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]pushid.ID(nil), s.offered...), s.durableOK
}

// taken returns the events offered and the PushIDs received (sampled or
// not) so far.
func (s *whSink) taken() ([]pushid.Event, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.received {
		n += c.N
	}
	return append([]pushid.Event(nil), s.events...), n
}

func (s *whSink) setRatio(r float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ratio = r
}

// whEnv is a Webhook wired to a fake clock, a whSink and its own registry.
// Tokens, apps and the body limit are read through closures, so a test may
// change them as a reload would.
type whEnv struct {
	t             testing.TB
	clk           *clock.Fake
	sink          *whSink
	reg           *prometheus.Registry
	w             *Webhook
	h             http.Handler
	mu            sync.Mutex
	apps          []WebhookApp
	callbackToken string
	bearerToken   string
	maxBody       int64
	logs          exportertest.LogBuffer
}

func newWhEnv(t testing.TB) *whEnv {
	t.Helper()
	e := &whEnv{
		t:    t,
		clk:  clock.NewFake(whNow),
		sink: &whSink{ratio: 1},
		reg:  prometheus.NewRegistry(),
		apps: []WebhookApp{
			{Name: "prod", SDKAppID: 1400000001},
			{Name: "staging", SDKAppID: 1400000002},
		},
		maxBody: 64 << 10,
	}
	w, err := NewWebhook(WebhookOptions{
		Apps:          func() []WebhookApp { e.mu.Lock(); defer e.mu.Unlock(); return e.apps },
		CallbackToken: func() string { e.mu.Lock(); defer e.mu.Unlock(); return e.callbackToken },
		BearerToken:   func() string { e.mu.Lock(); defer e.mu.Unlock(); return e.bearerToken },
		MaxBodyBytes:  func() int64 { e.mu.Lock(); defer e.mu.Unlock(); return e.maxBody },
		Clock:         e.clk,
		Logger:        log.NewLogfmtLogger(&e.logs),
		Registerer:    e.reg,
	}, e.sink)
	if err != nil {
		t.Fatal(err)
	}
	e.w, e.h = w, w.Handler()
	return e
}

func (e *whEnv) set(f func(e *whEnv)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(e)
}

// whRecorder notes how many Durable calls had succeeded when the status
// was written.
type whRecorder struct {
	*httptest.ResponseRecorder
	sink            *whSink
	durableAtHeader int
}

func (r *whRecorder) WriteHeader(code int) {
	_, r.durableAtHeader = r.sink.state()
	r.ResponseRecorder.WriteHeader(code)
}

// serve runs req and checks the invariant of both endpoints: a 2xx for a
// request that offered sampled IDs or events is written only after Durable
// succeeded.
func (e *whEnv) serve(req *http.Request) *whRecorder {
	e.t.Helper()
	before, okBefore := e.sink.state()
	eventsBefore, _ := e.sink.taken()
	rec := &whRecorder{ResponseRecorder: httptest.NewRecorder(), sink: e.sink}
	e.h.ServeHTTP(rec, req)
	after, _ := e.sink.state()
	eventsAfter, _ := e.sink.taken()
	mustWait := len(after) > len(before) || len(eventsAfter) > len(eventsBefore)
	if rec.Code/100 == 2 && mustWait && rec.durableAtHeader <= okBefore {
		e.t.Errorf("%s %s: %d written before Durable succeeded", req.Method, req.URL, rec.Code)
	}
	if h := rec.Header(); req.URL.Path != "/-/healthy" && (h.Get("Content-Type") != "application/json" ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store") {
		e.t.Errorf("%s %s: headers %v", req.Method, req.URL, h)
	}
	return rec
}

// whWaitDurable waits until the handler running in the background calls
// Durable, failing if it replies first.
func whWaitDurable(t *testing.T, e *whEnv, done <-chan *whRecorder) {
	t.Helper()
	select {
	case <-e.sink.entered:
	case rec := <-done:
		t.Fatalf("replied %d %s without calling Durable", rec.Code, rec.Body)
	}
}

// whBody reads a testdata file.
func whBody(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

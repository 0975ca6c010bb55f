package timapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/timpush/timpush_exporter/internal/clock"
)

const (
	testAppID = 1400000000
	testIdent = "administrator"
	// Long and distinctive, so a leak is easy to spot in any string.
	testKey = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
)

var testStart = time.Date(2025, 3, 7, 2, 0, 0, 0, time.UTC)

// reply is one canned answer of the fake API. A zero status means 200.
type reply struct {
	status int
	body   string
	stall  bool // block until the client gives up
}

func okReply(body string) reply { return reply{body: body} }

func codeReply(code int) reply {
	return reply{body: `{"ActionStatus":"FAIL","ErrorCode":` + strconv.Itoa(code) + `,"ErrorInfo":"test error"}`}
}

// recorded is what the fake API saw of one request.
type recorded struct {
	method, path string
	query        url.Values
	header       http.Header
	body         string
	at           time.Time // fake-clock time of arrival
}

// fakeAPI serves canned replies in order, repeating the last one.
type fakeAPI struct {
	*httptest.Server
	clk *clock.Fake

	mu      sync.Mutex
	replies []reply
	reqs    []recorded
	// onRequest, when set, picks the reply from the request index instead.
	onRequest func(i int, r recorded) reply
}

func newFakeAPI(t *testing.T, clk *clock.Fake, replies ...reply) *fakeAPI {
	t.Helper()
	f := &fakeAPI{clk: clk, replies: replies}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := recorded{method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone(), body: string(body)}
	if f.clk != nil {
		rec.at = f.clk.Now()
	}
	f.mu.Lock()
	i := len(f.reqs)
	f.reqs = append(f.reqs, rec)
	var rep reply
	switch {
	case f.onRequest != nil:
		rep = f.onRequest(i, rec)
	case len(f.replies) == 0:
		rep = okReply(`{"ActionStatus":"OK","ErrorCode":0,"InstanceTrace":[]}`)
	case i < len(f.replies):
		rep = f.replies[i]
	default:
		rep = f.replies[len(f.replies)-1]
	}
	f.mu.Unlock()
	if rep.stall {
		<-r.Context().Done()
		return
	}
	if rep.status == 0 {
		rep.status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// countingLimiter counts Wait calls, never delays, and records what each
// call reported when it was done.
type countingLimiter struct {
	n       atomic.Int64
	mu      sync.Mutex
	reports []wireReport
}

type wireReport struct{ sent, replied time.Time }

func (l *countingLimiter) Wait(ctx context.Context) (func(sent, replied time.Time), error) {
	l.n.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return func(sent, replied time.Time) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.reports = append(l.reports, wireReport{sent, replied})
	}, nil
}

func (l *countingLimiter) done() []wireReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]wireReport(nil), l.reports...)
}

// testApp is the app label of the clients testOptions builds.
const testApp = "test"

// recMetrics is a Metrics on a registry of its own, to read back what the
// client counted.
type recMetrics struct {
	*Metrics
	reg *prometheus.Registry
}

func newRecMetrics() *recMetrics {
	reg := prometheus.NewRegistry()
	return &recMetrics{Metrics: NewMetrics(reg), reg: reg}
}

// family returns the metrics of the family name, for app testApp.
func (r *recMetrics) family(t *testing.T, name string) []*dto.Metric {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if label(m, "app") == testApp {
				out = append(out, m)
			}
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// attempts is how many attempts had their outcome observed.
func (r *recMetrics) attempts(t *testing.T) int {
	t.Helper()
	n := 0
	for _, m := range r.family(t, "timpush_exporter_trace_query_duration_seconds") {
		n += int(m.GetHistogram().GetSampleCount())
	}
	return n
}

// errors is api_errors_total by error_code.
func (r *recMetrics) errors(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range r.family(t, "timpush_exporter_api_errors_total") {
		out[label(m, "error_code")] = int(m.GetCounter().GetValue())
	}
	return out
}

// calls is api_calls_total by purpose, leaving out zeros.
func (r *recMetrics) calls(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range r.family(t, "timpush_exporter_api_calls_total") {
		if v := int(m.GetCounter().GetValue()); v != 0 {
			out[label(m, "purpose")] = v
		}
	}
	return out
}

// testOptions returns options for a client of api with a fake clock, a
// counting limiter and metrics of its own.
func testOptions(api *fakeAPI, clk *clock.Fake) (Options, *countingLimiter, *recMetrics) {
	lim, obs := &countingLimiter{}, newRecMetrics()
	return Options{
		SDKAppID:   testAppID,
		Identifier: testIdent,
		SecretKey:  testKey,
		BaseURL:    api.URL,
		Limiter:    lim,
		Clock:      clk,
		Metrics:    obs.Metrics,
		App:        testApp,
	}, lim, obs
}

func mustNew(t *testing.T, o Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// drive runs fns concurrently and, whenever every one still running is
// blocked on a timer of clk, moves clk to the earliest deadline. Time thus
// only jumps while nothing is in flight, so fake-clock timestamps taken by
// the server are exactly the times the requests were released.
func drive(t *testing.T, clk *clock.Fake, fns ...func()) {
	t.Helper()
	var active atomic.Int64
	active.Store(int64(len(fns)))
	done := make(chan struct{})
	for _, fn := range fns {
		go func() {
			defer func() {
				if active.Add(-1) == 0 {
					close(done)
				}
			}()
			fn()
		}()
	}
	giveUp := time.After(10 * time.Second)
	for {
		select {
		case <-done:
			return
		case <-giveUp:
			t.Fatalf("calls did not finish; fake clock at %v with %d timers", clk.Now(), clk.Waiters())
		case <-time.After(200 * time.Microsecond):
		}
		if n := active.Load(); n > 0 && int64(clk.Waiters()) >= n {
			if d, ok := clk.NextDeadline(); ok {
				clk.Set(d)
			}
		}
	}
}

package statistics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/exportertest"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// t0 is a whole second, so a poll's window ends exactly there.
var t0 = time.Date(2026, 3, 12, 8, 0, 0, 0, time.UTC)

const testInterval = 10 * time.Minute

// fakeClient answers with whatever the test put in it and records windows.
type fakeClient struct {
	mu       sync.Mutex
	stats    *timapi.Statistics
	statsErr error
	loss     *timapi.Loss
	lossErr  error
	calls    []call
	// blocked, when set, receives a value as Statistics starts to hang
	// until its context ends.
	blocked chan struct{}
}

type call struct {
	api        string
	start, end time.Time
}

func (f *fakeClient) Statistics(ctx context.Context, start, end time.Time) (*timapi.Statistics, error) {
	f.mu.Lock()
	f.calls = append(f.calls, call{"statistics", start, end})
	s, err, blocked := f.stats, f.statsErr, f.blocked
	f.mu.Unlock()
	if blocked != nil {
		blocked <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s, err
}

func (f *fakeClient) Loss(_ context.Context, start, end time.Time) (*timapi.Loss, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{"loss", start, end})
	return f.loss, f.lossErr
}

func (f *fakeClient) set(s *timapi.Statistics, sErr error, l *timapi.Loss, lErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats, f.statsErr, f.loss, f.lossErr = s, sErr, l, lErr
}

func (f *fakeClient) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// harness runs pollers on a fake clock and exports them on a registry.
type harness struct {
	t     *testing.T
	clock *clock.Fake
	reg   *prometheus.Registry
	coll  *Collector
	logs  *exportertest.LogBuffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	return &harness{t: t, clock: clock.NewFake(t0), reg: reg, coll: NewCollector(reg), logs: &exportertest.LogBuffer{}}
}

func (h *harness) poller(app string, c Client, interval time.Duration) *Poller {
	return NewPoller(Options{App: app, Client: c, Interval: interval, Clock: h.clock, Logger: log.NewLogfmtLogger(h.logs)})
}

// run starts p until the returned stop (also run at cleanup) is called.
func (h *harness) run(p *Poller) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	h.t.Cleanup(stop)
	return stop
}

// advance moves the clock by d and waits until the pollers (n of them) are
// back on their timers, i.e. any poll that came due has finished.
func (h *harness) advance(d time.Duration, n int) {
	h.clock.Advance(d)
	h.clock.BlockUntil(n)
}

// compare checks the named metrics against exposition text.
func (h *harness) compare(want string, names ...string) {
	h.t.Helper()
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want), names...); err != nil {
		h.t.Error(err)
	}
}

// fakeAPI serves canned bodies per path; a path's body can be changed.
type fakeAPI struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string]string
}

func newFakeAPI(t *testing.T, statistics, loss string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{bodies: map[string]string{}}
	f.set(statistics, loss)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		body, ok := f.bodies[r.URL.Path]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body)) //nolint:errcheck // the client's problem
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) set(statistics, loss string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies["/v4/timpush/normal_push_statistics"] = statistics
	f.bodies["/v4/timpush/normal_push_loss"] = loss
}

// noLimit lets every call through: these tests are not about pacing.
type noLimit struct{}

func (noLimit) Wait(context.Context) (func(sent, replied time.Time), error) {
	return func(time.Time, time.Time) {}, nil
}

// newClient is a real client for url; one attempt per call, so a failure
// needs no back-off on the clock.
func newClient(t *testing.T, url string, lim timapi.Limiter, clk clock.Clock) *timapi.Client {
	t.Helper()
	c, err := timapi.New(timapi.Options{
		SDKAppID: testAppID, Identifier: testAdmin, SecretKey: testKey, BaseURL: url,
		Limiter: lim, Clock: clk, MaxAttempts: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	testAppID = 1400000001
	testAdmin = "administrator"
	testKey   = "s3cr3t-key-for-the-statistics-tests"
)

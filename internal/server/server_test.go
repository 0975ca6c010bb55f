package server

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/statistics"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// testConfig has two apps and a regex file source over dir.
func testConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	yaml := `
apps:
  - {name: a, sdkappid: 1400000001, identifier: admin, secret_key: k1, endpoint: "http://127.0.0.1:1", rate_limit: 1, statistics_interval: 0}
  - {name: b, sdkappid: 1400000002, identifier: admin, secret_key: k2, endpoint: "http://127.0.0.1:1", rate_limit: 2, statistics_interval: 0}
sources:
  files:
    - {path: "` + dir + `/*.log", app: a, format: regex, regex: 'msg_id=(?P<push_id>\S+)'}
`
	cfg, err := config.Decode(strings.NewReader(yaml), dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newServer(t *testing.T, cfg *config.Config, clk clock.Clock) *Server {
	t.Helper()
	addrs := []string{"127.0.0.1:0"}
	systemd, webConfig := false, ""
	s, err := New(cfg, Options{Clock: clk, Registry: prometheus.NewRegistry(), StoragePath: t.TempDir(),
		Web: &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &webConfig}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *Server) rate(app string) float64 {
	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	return s.apps.pacers[app].Rate()
}

func (s *Server) tailers() map[fileKey]*tailer {
	s.files.mu.Lock()
	defer s.files.mu.Unlock()
	out := map[fileKey]*tailer{}
	for k, t := range s.files.running {
		out[k] = t
	}
	return out
}

// TestRefusedReloadChangesNothing: a reload whose second app cannot be
// built changes neither the first app's rate nor anything else.
func TestRefusedReloadChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, testConfig(t, dir), clock.NewFake(t0))
	defer s.Close()
	before, tailers := s.current(), s.tailers()

	next := testConfig(t, dir)
	next.Apps[0].RateLimit = 5              // would change a's rate…
	next.Apps[1].Endpoint = "ftp://nowhere" // …but b's client cannot be built
	next.Sources.Files = append(next.Sources.Files, next.Sources.Files[0])
	next.Sources.Files[1].Path = dir + "/*.txt" // and a new file source would start
	err := s.Reload(next)
	if err == nil || !strings.Contains(err.Error(), "app b") {
		t.Fatalf("Reload = %v, want an error naming app b", err)
	}
	if r := s.rate("a"); r != 1 {
		t.Errorf("a's rate after the refused reload = %v, want 1", r)
	}
	if st := s.scheduler.States()["a"]; st.RateLimit != 1 {
		t.Errorf("scheduler's rate for a = %v, want 1", st.RateLimit)
	}
	if s.current() != before {
		t.Error("the running configuration changed")
	}
	if got := s.tailers(); len(got) != 1 || got[keyOf(before.Sources.Files[0])] != tailers[keyOf(before.Sources.Files[0])] {
		t.Errorf("tailers changed: %v", got)
	}

	// A bad file source refuses the reload as well.
	next = testConfig(t, dir)
	next.Apps[0].RateLimit = 5
	next.Sources.Files[0].Format = "bogus"
	if err := s.Reload(next); err == nil || s.rate("a") != 1 {
		t.Fatalf("Reload with a bad file source = %v, rate %v: want refused, rate 1", err, s.rate("a"))
	}
}

// TestReloadKeepsUnchangedSources: a reload that leaves a regex file
// source's values alone keeps its tailer, whatever else changes.
func TestReloadKeepsUnchangedSources(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, testConfig(t, dir), clock.NewFake(t0))
	defer s.Close()
	before := s.tailers()
	next := testConfig(t, dir) // same values, a freshly compiled regexp
	next.Apps[0].RateLimit = 3
	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}
	if s.rate("a") != 3 {
		t.Fatalf("rate = %v, want 3", s.rate("a"))
	}
	after := s.tailers()
	for k, tl := range before {
		if after[k] != tl {
			t.Errorf("tailer of %s was restarted by a reload that did not change it", k.path)
		}
	}
}

// TestListenerThatCannotBindStopsTheStart: an exporter whose webhook
// listener cannot bind does not run half-deaf.
func TestListenerThatCannotBindStopsTheStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig(t, t.TempDir())
	wh := config.DefaultWebhook
	wh.ListenAddress = taken.Addr().String()
	cfg.Sources.Webhook = &wh
	s := newServer(t, cfg, clock.Real{})
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "webhook listener") {
		t.Fatalf("Run = %v, want an error naming the webhook listener", err)
	}
}

// TestReadyFollowsCheckpoints: /-/ready says Ready only while checkpoints
// are saved.
func TestReadyFollowsCheckpoints(t *testing.T) {
	s := newServer(t, testConfig(t, t.TempDir()), clock.NewFake(t0))
	defer s.Close()
	ready := func() (int, string) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/-/ready", nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := ready(); code != http.StatusServiceUnavailable {
		t.Fatalf("ready before Run: %d", code)
	}
	s.health.setStarted(true)
	if code, body := ready(); code != http.StatusOK {
		t.Fatalf("ready: %d %s", code, body)
	}
	s.checkpointed(os.ErrPermission)
	if code, body := ready(); code != http.StatusServiceUnavailable || !strings.Contains(body, "checkpoint") {
		t.Fatalf("ready while checkpoints fail: %d %q, want 503 naming the checkpoint", code, body)
	}
	s.checkpointed(nil)
	if code, _ := ready(); code != http.StatusOK {
		t.Fatalf("ready after a checkpoint was saved again: %d", code)
	}
}

// TestReadyFollowsAWebhookListenerThatFails: a listener that stops serving
// after the start (here: its socket is closed under it) makes /-/ready
// answer 503 naming it, while the rest goes on.
func TestReadyFollowsAWebhookListenerThatFails(t *testing.T) {
	s := newServer(t, testConfig(t, t.TempDir()), clock.NewFake(t0))
	defer s.Close()
	s.health.setStarted(true)
	w, err := s.newWebhook(&config.Webhook{ListenAddress: "127.0.0.1:0", MaxConnections: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.listen(); err != nil {
		t.Fatal(err)
	}
	w.ln.Close()
	w.serve() // returns at once: Accept fails on the closed socket

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/-/ready", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "webhook listener") {
		t.Fatalf("ready after the webhook listener failed: %d %q, want 503 naming it", rec.Code, rec.Body.String())
	}
}

type countingClient struct{ calls atomic.Int64 }

func (c *countingClient) Statistics(context.Context, time.Time, time.Time) (*timapi.Statistics, error) {
	c.calls.Add(1)
	return &timapi.Statistics{TotalCount: 3}, nil
}

func (c *countingClient) Loss(context.Context, time.Time, time.Time) (*timapi.Loss, error) {
	c.calls.Add(1)
	return &timapi.Loss{}, nil
}

// TestPollersFollowReloadOnTheClock: one poller per app with a
// statistics_interval, on the server's clock; a reload's poller waits out
// the interval its predecessor started; a removed app's poller stops.
func TestPollersFollowReloadOnTheClock(t *testing.T) {
	fake := clock.NewFake(t0)
	reg := prometheus.NewRegistry()
	p := &pollers{s: &Server{clock: fake, logger: nopLogger()}, coll: statistics.NewCollector(reg)}
	on, off := &countingClient{}, &countingClient{}
	clients := map[string]statistics.Client{"on": on, "off": off}
	app := func(name string, d time.Duration) config.App {
		return config.App{Name: name, StatisticsInterval: model.Duration(d)}
	}
	p.apply(&config.Config{Apps: []config.App{app("on", time.Hour), app("off", 0)}}, clients)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.run(ctx); close(done) }()
	fake.BlockUntil(1) // polled at once, now waiting out the hour
	if n := on.calls.Load(); n != 2 {
		t.Fatalf("%d calls at start, want 2 (statistics and loss)", n)
	}
	if n, _ := testutil.GatherAndCount(reg, "push_statistics_pushes"); n != 4 {
		t.Fatalf("%d push_statistics_pushes series, want 4", n)
	}
	p.apply(&config.Config{Apps: []config.App{app("on", time.Hour)}}, clients)
	fake.BlockUntil(1)
	if n := on.calls.Load(); n != 2 {
		t.Fatalf("%d calls after a reload, want 2: the new poller waits out the interval", n)
	}
	fake.Advance(time.Hour)
	fake.BlockUntil(1)
	if n := on.calls.Load(); n != 4 {
		t.Fatalf("%d calls an hour later on the server's clock, want 4", n)
	}
	if n := off.calls.Load(); n != 0 {
		t.Errorf("app with statistics_interval 0 made %d calls", n)
	}
	p.apply(&config.Config{Apps: []config.App{app("off", 0)}}, clients)
	if n, _ := testutil.GatherAndCount(reg, "push_statistics_pushes"); n != 0 {
		t.Errorf("%d series of a removed app's statistics", n)
	}
	cancel()
	<-done
}

func nopLogger() log.Logger { return log.NewNopLogger() }

// TestReloadErrorReachesTheCallerAndIsNotLoggedHere: POST /-/reload gives
// the caller the error; the reloader logs it, so the route must not log it
// a second time.
func TestReloadErrorReachesTheCallerAndIsNotLoggedHere(t *testing.T) {
	var logs strings.Builder
	addrs, systemd, webConfig := []string{"127.0.0.1:0"}, false, ""
	s, err := New(testConfig(t, t.TempDir()), Options{Clock: clock.NewFake(t0), Registry: prometheus.NewRegistry(),
		StoragePath: t.TempDir(), Logger: log.NewLogfmtLogger(&logs),
		Web:    &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &webConfig},
		Reload: func() error { return os.ErrNotExist }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	logs.Reset()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), os.ErrNotExist.Error()) {
		t.Fatalf("POST /-/reload: %d %q, want 500 with the error", rec.Code, rec.Body)
	}
	if logs.Len() != 0 {
		t.Fatalf("the route logged the reload error again: %s", logs.String())
	}
}

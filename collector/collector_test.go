package collector

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/exposition"
	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/scheduler"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// goldenMetrics are the metric families of the golden file: everything the
// pipeline exports except timings, which vary run to run.
var goldenMetrics = []string{
	"push_stage_total", "push_stage_failures_total", "push_stage_latency_seconds",
	"push_instances_total", "push_notification_disabled_total", "push_stage_unreported_total",
	"push_callback_events_total", "push_callback_failures_total",
	"timpush_exporter_pushids_received_total", "timpush_exporter_pushids_sampled_total",
	"timpush_exporter_pushids_dropped_total", "timpush_exporter_pushids_duplicate_total",
	"timpush_exporter_trace_queries_total", "timpush_exporter_pending_pushids",
	"timpush_exporter_query_outcomes_total", "timpush_exporter_queries_with_outcomes_total",
	"timpush_exporter_app_up", "timpush_exporter_rate_limit", "timpush_exporter_sample_ratio",
	"timpush_exporter_last_checkpoint_timestamp_seconds",
}

type scripted map[string]*timapi.Trace

func (s scripted) Trace(_ context.Context, id string) (*timapi.Trace, error) { return s[id], nil }

func stat(status timapi.Status, code int, at time.Time) timapi.StageResult {
	return timapi.StageResult{Status: status, ErrorCode: code, EventTime: at}
}

func inst(id string, p int, stages ...timapi.StageResult) timapi.Instance {
	in := timapi.Instance{InstanceID: id, PushPlatform: p, PushTime: t0, NotificationStatus: 1}
	copy(in.Stages[:], stages)
	return in
}

// TestGoldenMetrics runs a fixed scenario and compares the whole exposition
// with testdata/metrics.golden. Run with UPDATE_GOLDEN=1 to rewrite it.
func TestGoldenMetrics(t *testing.T) {
	ok, fail := timapi.StatusSuccess, timapi.StatusFailure
	answers := scripted{
		"p1": {PushID: "p1", Instances: []timapi.Instance{
			inst("i1", 3, stat(ok, 0, t0), stat(ok, 0, t0.Add(time.Second)), stat(ok, 0, t0.Add(2*time.Second)), stat(fail, 80300007, t0.Add(30*time.Second))),
			inst("i2", 1, stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0.Add(time.Second)), stat(ok, 0, t0.Add(3*time.Second)), stat(ok, 0, t0.Add(time.Hour)))}},
		"p2": {PushID: "p2", Instances: []timapi.Instance{inst("i1", 8, stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0.Add(2*time.Second)))}},
	}
	fake := clock.NewFake(t0)
	l := ledger.New(ledger.Options{Clock: fake})
	s := scheduler.New(l, scheduler.Options{Clock: fake})
	s.SetApps([]scheduler.App{{Name: "prod", SampleRatio: 1, RateLimit: 1, Tracer: answers, Ledger: ledger.AppConfig{
		QueryDelay: time.Minute, RequeryAfter: []time.Duration{5 * time.Minute, 30 * time.Minute}, MaxPending: 100}}})
	reg := prometheus.NewRegistry()
	c := New(l, s)
	reg.MustRegister(c)

	offer := func(ids ...string) {
		var b source.Batch
		for _, id := range ids {
			b.IDs = append(b.IDs, pushid.ID{App: "prod", PushID: id, Source: pushid.SourceFile, Seen: fake.Now()})
		}
		b.Received = []pushid.Count{{App: "prod", Source: pushid.SourceFile, N: len(ids)}}
		l.Offer(b)
	}
	offer("p1", "p2")
	offer("p1")
	l.Offer(source.Batch{Events: []pushid.Event{
		{App: "prod", Platform: 3, Stage: 1, Time: t0, Key: 1},
		{App: "prod", Platform: 3, Stage: 2, ErrCode: 80300007, ErrInfo: "token invalid", Time: t0, Key: 2},
		{App: "prod", Platform: 3, Stage: 2, ErrCode: 80300007, ErrInfo: "token invalid", Time: t0, Key: 2}, // redelivered
	}})
	step := func(after time.Duration, n int) {
		fake.Advance(after)
		for range n {
			if _, called := s.Step(context.Background(), "prod"); !called {
				t.Fatalf("nothing to query at %s", fake.Now().Sub(t0))
			}
		}
	}
	step(time.Minute, 2)    // both first queries
	step(4*time.Minute, 1)  // p2 waits for its device: requeried at 5m
	step(25*time.Minute, 1) // and at 30m, then finished
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}

	got := servePage(t, exposition.Handler(reg, c, exposition.HandlerOpts{}), goldenMetrics)
	golden := "testdata/metrics.golden"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("/metrics differs from %s:\n%s", golden, firstDiff(got, want))
	}
	all := prometheus.Gatherers{reg, exposition.Gatherer(c)}
	if err := testutil.GatherAndCompare(all, bytes.NewReader(want), goldenMetrics...); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(all)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for _, line := range []string{
		`push_stage_failures_total{app="prod",error_code="80300007",platform="huawei",reason="token_invalid",stage="device"} 1`,
		`push_stage_unreported_total{app="prod",platform="honor",stage="device"} 1`,
		`push_callback_events_total{app="prod",platform="huawei",push_stage="2"} 1`,
		`push_callback_failures_total{app="prod",error_code="80300007",platform="huawei",push_stage="2",reason="token_invalid"} 1`,
		`timpush_exporter_query_outcomes_total{app="prod",purpose="first"} 12`,
	} {
		if !strings.Contains(string(want), line) {
			t.Errorf("golden file lacks %s", line)
		}
	}
}

// servePage returns the text-format page h serves for the named families.
func servePage(t *testing.T, h http.Handler, names []string) []byte {
	t.Helper()
	q := url.Values{"name[]": names}
	req := httptest.NewRequest(http.MethodGet, "/metrics?"+q.Encode(), nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\ngot  %s\nwant %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(g), len(w))
}

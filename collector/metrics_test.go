package collector

import (
	"bytes"
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

	"github.com/timpush/timpush_exporter/internal/exposition"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// goldenMetrics are the metric families of the golden file: everything the
// collector exports except timings, which vary run to run.
var goldenMetrics = []string{
	"push_stage_total", "push_stage_failures_total", "push_stage_latency_seconds",
	"push_instances_total", "push_notification_disabled_total", "push_stage_unreported_total",
	"timpush_exporter_pushids_received_total", "timpush_exporter_pushids_sampled_total",
	"timpush_exporter_pushids_dropped_total", "timpush_exporter_pushids_duplicate_total",
	"timpush_exporter_trace_queries_total", "timpush_exporter_pending_pushids",
	"timpush_exporter_app_up", "timpush_exporter_rate_limit", "timpush_exporter_sample_ratio",
	"timpush_exporter_last_checkpoint_timestamp_seconds",
}

// TestGoldenMetrics runs a fixed scenario and compares the whole exposition
// with testdata/metrics.golden. Run with UPDATE_GOLDEN=1 to rewrite it.
func TestGoldenMetrics(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("p1", "p2")
	h.offer("p1")
	h.clock.Advance(time.Minute)
	answers := map[string]*timapi.Trace{
		"p1": trace("p1",
			instance("i1", 3, stat(ok, 0, t0), stat(ok, 0, t0.Add(time.Second)), stat(ok, 0, t0.Add(2*time.Second)), stat(fail, 80300007, t0.Add(30*time.Second))),
			instance("i2", 1, stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0.Add(time.Second)), stat(ok, 0, t0.Add(3*time.Second)), stat(ok, 0, t0.Add(time.Hour)))),
		"p2": trace("p2", instance("i1", 8, stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0.Add(2*time.Second)))),
	}
	for i := 0; i < 2; i++ {
		r := h.tracer.expect(t, "")
		r.answer(answers[r.pushID], nil)
	}
	h.idle()
	// p2 waits for its device stage through both requeries, then is finished.
	h.clock.Advance(4 * time.Minute)
	h.tracer.expect(t, "p2").answer(answers["p2"], nil)
	h.idle()
	h.clock.Advance(25 * time.Minute)
	h.tracer.expect(t, "p2").answer(answers["p2"], nil)
	h.idle()
	h.checkpoint()

	// The golden file is the page /metrics serves, for the golden families;
	// client_golang must gather the same from the collector.
	got := servePage(t, exposition.Handler(h.reg, h.c, exposition.HandlerOpts{}), goldenMetrics)
	golden := "testdata/metrics.golden"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.MkdirAll("testdata", 0o755)
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
	all := prometheus.Gatherers{h.reg, exposition.Gatherer(h.c)}
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
	for _, line := range []string{`push_stage_failures_total{app="prod",error_code="80300007",platform="huawei",reason="token_invalid",stage="device"} 1`,
		`push_stage_unreported_total{app="prod",platform="honor",stage="device"} 1`} {
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

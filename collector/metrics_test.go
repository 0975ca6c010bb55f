package collector

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

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
// with testdata/metrics.golden. Run with -update to rewrite it.
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

	golden := "testdata/metrics.golden"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		got, err := testutil.CollectAndFormat(h.c, expfmt.TypeTextPlain, goldenMetrics...)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.GatherAndCompare(h.reg, f, goldenMetrics...); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	b, _ := os.ReadFile(golden)
	for _, want := range []string{`push_stage_failures_total{app="prod",error_code="80300007",platform="huawei",reason="token_invalid",stage="device"} 1`,
		`push_stage_unreported_total{app="prod",platform="honor",stage="device"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("golden file lacks %s", want)
		}
	}
}

package timapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/clock"
)

// TestMetricsByPurpose: every attempt that took a slot of the budget is
// counted by the purpose in its context (retries included); Statistics and
// Loss are statistics by themselves; every app's purposes start at zero;
// failed attempts count by error code.
func TestMetricsByPurpose(t *testing.T) {
	clk := clock.NewFake(testStart)
	api := newFakeAPI(t, clk)
	api.onRequest = func(i int, r recorded) reply {
		if i == 1 { // the requery's first attempt fails once
			return reply{status: 502}
		}
		if !strings.HasSuffix(r.path, "normal_push_trace") {
			return okReply(`{"ActionStatus":"OK","ErrorCode":0}`)
		}
		return okReply(okBody)
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	o, _, _ := testOptions(api, clk)
	o.Metrics, o.App = m, "prod"
	o.BaseBackoff, o.MaxBackoff = time.Millisecond, time.Millisecond
	c := mustNew(t, o)
	idle := o
	idle.App = "staging" // a second app of the process, no calls yet
	mustNew(t, idle)

	ctx := context.Background()
	t0 := time.Unix(1741708800, 0)
	drive(t, clk, func() {
		for _, p := range []Purpose{PurposeFirst, PurposeRequery, PurposeTracePage} {
			if _, err := c.Trace(WithPurpose(ctx, p), "p"); err != nil {
				t.Error(err)
			}
		}
		if _, err := c.Trace(ctx, "p"); err != nil { // no purpose
			t.Error(err)
		}
		if _, err := c.Statistics(WithPurpose(ctx, PurposeFirst), t0, t0.Add(time.Hour)); err != nil {
			t.Error(err)
		}
		if _, err := c.Loss(ctx, t0, t0.Add(time.Hour)); err != nil {
			t.Error(err)
		}
	})

	const want = `
# HELP timpush_exporter_api_calls_total API attempts (retries included) that took a slot of the app's rate budget, by purpose: first, requery, trace_page, statistics or other.
# TYPE timpush_exporter_api_calls_total counter
timpush_exporter_api_calls_total{app="prod",purpose="first"} 1
timpush_exporter_api_calls_total{app="prod",purpose="other"} 1
timpush_exporter_api_calls_total{app="prod",purpose="requery"} 2
timpush_exporter_api_calls_total{app="prod",purpose="statistics"} 2
timpush_exporter_api_calls_total{app="prod",purpose="trace_page"} 1
timpush_exporter_api_calls_total{app="staging",purpose="first"} 0
timpush_exporter_api_calls_total{app="staging",purpose="other"} 0
timpush_exporter_api_calls_total{app="staging",purpose="requery"} 0
timpush_exporter_api_calls_total{app="staging",purpose="statistics"} 0
timpush_exporter_api_calls_total{app="staging",purpose="trace_page"} 0
# HELP timpush_exporter_api_errors_total Failed API attempts (retries included) by error code: Tencent's ErrorCode, http_<status>, network, timeout or decode.
# TYPE timpush_exporter_api_errors_total counter
timpush_exporter_api_errors_total{app="prod",error_code="http_502"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"timpush_exporter_api_calls_total", "timpush_exporter_api_errors_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.duration, "timpush_exporter_trace_query_duration_seconds"); n != 1 {
		t.Errorf("%d duration series, want one for prod", n)
	}
	if got := histogramCount(t, reg, "prod"); got != 7 {
		t.Errorf("%d attempts timed, want 7", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, app string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "timpush_exporter_trace_query_duration_seconds" {
			continue
		}
		for _, m := range mf.Metric {
			if label(m, "app") == app {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func TestMetricsNeedTheAppName(t *testing.T) {
	o := Options{SDKAppID: 1, Identifier: "a", SecretKey: "k", BaseURL: "https://h", Limiter: &countingLimiter{}, Metrics: NewMetrics(nil)}
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "App") {
		t.Errorf("New without App = %v, want an error naming App", err)
	}
}

package promeval

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// The benchmarks drive examples/prometheus/alerts.yml with bodies shaped
// like the exporter's /metrics for one app: stage totals and failures per
// platform, stage latency histograms and the exporter's own series, 504
// series in all.
//
//	go test -run '^$' -bench . -benchtime 1x -benchmem ./internal/fidelity/promeval/  (30 days once)
//	go test -run '^$' -bench 'Scrape|Advance' -benchmem ./internal/fidelity/promeval/

const shippedRules = "../../../examples/prometheus/alerts.yml"

// benchBodies are bodyCycle consecutive scrapes, rendered once so that
// rendering is not measured. A run longer than the cycle starts it again,
// which the counters see as a reset every bodyCycle scrapes (64 min).
const bodyCycle = 256

func benchBodies(tb testing.TB) [][]byte {
	tb.Helper()
	platforms := []string{"apns", "fcm", "huawei", "honor", "xiaomi", "oppo", "vivo", "meizu", "unknown"}
	stages := []string{"im", "offline", "channel", "device", "click"}
	buckets := []string{"0.1", "0.5", "1", "2.5", "5", "10", "30", "60", "120", "300", "900", "+Inf"}
	bodies := make([][]byte, bodyCycle)
	var series int
	for i := range bodies {
		n := float64(i + 1)
		var b bytes.Buffer
		series = 0
		line := func(format string, args ...any) {
			fmt.Fprintf(&b, format+"\n", args...)
			series++
		}
		b.WriteString("# TYPE push_stage_total counter\n")
		for _, p := range platforms {
			for _, s := range stages {
				line(`push_stage_total{app="prod",platform=%q,stage=%q} %g`, p, s, 30*n)
			}
		}
		b.WriteString("# TYPE push_stage_failures_total counter\n")
		for _, p := range platforms {
			for _, s := range stages[1:] {
				for c, reason := range []string{"token_invalid", "auth_or_certificate", "quota"} {
					line(`push_stage_failures_total{app="prod",error_code="%d",platform=%q,reason=%q,stage=%q} %g`, c, p, reason, s, n)
				}
			}
		}
		b.WriteString("# TYPE push_stage_latency_seconds histogram\n")
		for _, p := range platforms[:8] {
			for _, s := range stages[1:4] {
				for k, le := range buckets {
					line(`push_stage_latency_seconds_bucket{app="prod",platform=%q,stage=%q,le=%q} %g`, p, s, le, float64(k+1)*n)
				}
				line(`push_stage_latency_seconds_sum{app="prod",platform=%q,stage=%q} %g`, p, s, 40*n)
				line(`push_stage_latency_seconds_count{app="prod",platform=%q,stage=%q} %g`, p, s, 12*n)
			}
		}
		for _, p := range platforms {
			line(`push_instances_total{app="prod",platform=%q} %g`, p, 30*n)
		}
		line(`timpush_exporter_app_up{app="prod"} 1`)
		line(`timpush_exporter_config_last_reload_successful 1`)
		line(`timpush_exporter_pending_pushids{app="prod"} %d`, 500+i%7)
		line(`timpush_exporter_pushids_sampled_total{app="prod"} %g`, 20*n)
		line(`timpush_exporter_pushids_dropped_total{app="prod",reason="queue_full"} 0`)
		line(`timpush_exporter_trace_queries_total{app="prod"} %g`, 15*n)
		bodies[i] = b.Bytes()
	}
	if series != 504 {
		tb.Fatalf("%d series per body, want 504", series)
	}
	return bodies
}

func newBenchEvaluator(b *testing.B) *Evaluator {
	b.Helper()
	e, err := New(Options{RuleFiles: []string{shippedRules}, Retention: 25 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

// BenchmarkScrape is one scrape of 504 series: parse, add the target
// labels, append, mark nothing stale, write up.
func BenchmarkScrape(b *testing.B) {
	bodies := benchBodies(b)
	e := newBenchEvaluator(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := range b.N {
		if err := e.Scrape(t0.Add(time.Duration(i)*15*time.Second), app, bodies[i%bodyCycle], textFormat); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu, b.N)
}

// reportCPU reports the process's CPU time since start per op: with
// the garbage collector's, but not other processes' share of the cores.
func reportCPU(b *testing.B, start time.Duration, ops int) {
	b.ReportMetric(float64(cpuTime()-start)/float64(ops), "cpu-ns/op")
}

// BenchmarkAdvance is one evaluation of every group of alerts.yml, on
// two hours of scrapes of 504 series (the rules read up to one hour).
func BenchmarkAdvance(b *testing.B) {
	bodies := benchBodies(b)
	e := newBenchEvaluator(b)
	i := 0
	scrapeAndAdvance := func() time.Time {
		at := t0.Add(time.Duration(i) * 15 * time.Second)
		if err := e.Scrape(at, app, bodies[i%bodyCycle], textFormat); err != nil {
			b.Fatal(err)
		}
		i++
		return at
	}
	for range 2 * 60 * 4 {
		if err := e.Advance(scrapeAndAdvance()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		b.StopTimer()
		scrapeAndAdvance()
		at := scrapeAndAdvance() // the next evaluation time (30s steps)
		start := cpuTime()
		b.StartTimer()
		if err := e.Advance(at); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - start
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkThirtyDays is what the fidelity harness does for its 30-day
// scenario: 172,800 scrapes at 15s, each followed by Advance, which
// evaluates at 30s (86,400 evaluations of each group). It reports the
// heap after a GC at the end of each simulated day (the largest one and
// the last), and the series in the storage at the end.
func BenchmarkThirtyDays(b *testing.B) {
	bodies := benchBodies(b)
	const days = 30
	const scrapesPerDay = 24 * 60 * 4
	for b.Loop() {
		cpu := cpuTime()
		e := newBenchEvaluator(b)
		var maxHeap, heap uint64
		for day := range days {
			for s := range scrapesPerDay {
				i := day*scrapesPerDay + s
				at := t0.Add(time.Duration(i) * 15 * time.Second)
				if err := e.Scrape(at, app, bodies[i%bodyCycle], textFormat); err != nil {
					b.Fatal(err)
				}
				if err := e.Advance(at); err != nil {
					b.Fatal(err)
				}
			}
			heap = heapInUse()
			maxHeap = max(maxHeap, heap)
		}
		b.ReportMetric((cpuTime() - cpu).Seconds(), "cpu-s")
		b.ReportMetric(float64(maxHeap)/(1<<20), "max-heap-MiB")
		b.ReportMetric(float64(heap)/(1<<20), "end-heap-MiB")
		b.ReportMetric(float64(e.head.NumSeries()), "series")
		b.ReportMetric(float64(days*scrapesPerDay), "scrapes")
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

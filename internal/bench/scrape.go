package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/timpush/timpush_exporter/internal/exposition"
	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Benchmark 4, scrape at full cardinality: 10 apps × 10 platforms × 7
// stages × 50 error codes. The series are made the normal way: PushIDs
// offered to a collector whose Tracer answers each with a trace of failed
// stages, counted, checkpointed and published. Then /metrics is rendered
// by the handler main.go serves (routes.go).

// scrapeSize is the cardinality: apps and error codes per app (the
// platforms and stages are always all 10 and 7).
type scrapeSize struct{ apps, codes int }

// scrapePlatforms are PushPlatform values giving the 10 platform labels
// (99 is "other").
var scrapePlatforms = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 99}

// Accept headers: the classic text format, and what Prometheus sends.
const (
	acceptText        = "text/plain;version=0.0.4"
	acceptPrometheus  = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
	scrapeRendersFull = 30
)

// scrapeEnv is a collector holding the series of size, and the /metrics
// handler main.go serves in front of it.
type scrapeEnv struct {
	c                *pipeline
	reg              *prometheus.Registry
	handler          http.Handler
	series, failures int
	close            func()
}

// newScrapeEnv makes the series of size the normal way (populate), with
// the state file in dir.
func newScrapeEnv(dir string, size scrapeSize) (*scrapeEnv, error) {
	st, _, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector("timpush_exporter"), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var apps []benchApp
	for a := range size.apps {
		apps = append(apps, benchApp{name: fmt.Sprintf("app%02d", a), ratio: 1, maxPending: 100_000, tracer: synthTracer{}})
	}
	c, err := newPipeline(st, reg, ledger.Options{MaxErrorCodes: size.codes}, apps...)
	if err != nil {
		st.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	env := &scrapeEnv{c: c, reg: reg, close: func() { cancel(); <-runDone; st.Close() }}
	if err := populate(c, reg, size); err != nil {
		env.close()
		return nil, err
	}
	env.series, env.failures = countSeries(prometheus.Gatherers{reg, exposition.Gatherer(c)})
	env.handler = exposition.Handler(reg, c, exposition.HandlerOpts{Registry: reg})
	return env, nil
}

// scrapeFormats are the renders measured.
var scrapeFormats = []struct{ name, accept, encoding string }{
	{"text format", acceptText, ""},
	{"text format, gzip", acceptText, "gzip"},
	{"OpenMetrics (exemplars)", acceptPrometheus, ""},
	{"OpenMetrics, gzip (as Prometheus scrapes)", acceptPrometheus, "gzip"},
}

// scrapeSizes are the cardinalities measured: the 36,713 series of
// earlier runs, and the 143 k series of issue 15 (39 apps: 136,500 failure
// series and the apps' other series).
var scrapeSizes = []scrapeSize{{apps: 10, codes: 50}, {apps: 39, codes: 50}}

func runScrape(o *options) ([]row, error) {
	renders, sizes := scrapeRendersFull, scrapeSizes
	if o.quick {
		renders, sizes = 2, []scrapeSize{{apps: 2, codes: 10}}
	}
	var rows []row
	for _, size := range sizes {
		rs, err := runScrapeSize(o, size, renders)
		rows = append(rows, rs...)
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

func runScrapeSize(o *options, size scrapeSize, renders int) ([]row, error) {
	env, err := newScrapeEnv(filepath.Join(o.tmp, fmt.Sprintf("scrape-%d", size.apps)), size)
	if err != nil {
		return nil, err
	}
	defer env.close()
	c, reg, handler, series, failures := env.c, env.reg, env.handler, env.series, env.failures
	ctx := context.Background()
	logf("scrape: %s series in the registry, %s of push_stage_failures_total", si(float64(series)), si(float64(failures)))

	stopProfile, err := startCPUProfile(o.profilePath(fmt.Sprintf("scrape-%d.cpu.pprof", size.apps)))
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, f := range scrapeFormats {
		times, cpu, bytes := render(handler, f.accept, f.encoding, renders)
		p50, worst := percentile(times, 50), percentile(times, 100)
		rows = append(rows, row{
			bench: fmt.Sprintf("scrape /metrics, %s, %d apps × %d platforms × 7 stages × %d codes",
				f.name, size.apps, len(scrapePlatforms), size.codes),
			figure: fmt.Sprintf("median %s, max %s of %d renders (CPU %s per render); %s bytes; %s series (%s failure series)",
				ms(p50), ms(worst), renders, ms(cpu), si(float64(bytes)), si(float64(series)), si(float64(failures))),
			target: "≤ 50 ms (median)",
			met:    verdict(p50 <= 50*time.Millisecond && failures >= size.apps*len(scrapePlatforms)*int(timapi.NumStages)*size.codes),
		})
		logf("scrape %s: %s", f.name, rows[len(rows)-1].figure)
	}
	stopProfile()
	rows = append(rows, scrapeBreakdown(c, reg, renders))

	// A checkpoint re-renders the series it saved: this is what a webhook
	// reply waits for once the exporter has this many.
	var durable []time.Duration
	for i := range renders {
		id := pushid.ID{App: "app00", PushID: "extra-" + strconv.Itoa(i), Source: pushid.SourceWebhook, Seen: time.Now()}
		t := time.Now()
		offer(c, []pushid.ID{id})
		if err := c.Durable(ctx); err != nil {
			return rows, err
		}
		durable = append(durable, time.Since(t))
	}
	rows = append(rows, row{
		bench:  "durable acknowledgement (Offer 1 ID + Durable) at the cardinality above",
		figure: fmt.Sprintf("median %s, max %s of %d", ms(percentile(durable, 50)), ms(percentile(durable, 100)), renders),
	})
	return rows, nil
}

// populate offers one PushID per (app, platform, code) and waits until all
// have been traced and a checkpoint has published the counts.
func populate(c *pipeline, reg prometheus.Gatherer, size scrapeSize) error {
	for a := range size.apps {
		var ids []pushid.ID
		for _, p := range scrapePlatforms {
			for code := range size.codes {
				ids = append(ids, pushid.ID{App: fmt.Sprintf("app%02d", a), PushID: fmt.Sprintf("p%d-c%d", p, code),
					Source: pushid.SourceFile, Seen: time.Now()})
			}
		}
		offer(c, ids)
	}
	want := float64(size.apps * len(scrapePlatforms) * size.codes)
	deadline := time.Now().Add(2 * time.Minute)
	for gatherSum(reg, "timpush_exporter_trace_queries_total", nil) < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("scrape: only %.0f of %.0f traces after 2 minutes", gatherSum(reg, "timpush_exporter_trace_queries_total", nil), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.Offer(source.Batch{}) // a new generation, so that Durable waits for a checkpoint after the last count
	return c.Durable(context.Background())
}

// countSeries counts the samples Gather returns, and the failure series.
func countSeries(g prometheus.Gatherer) (all, failures int) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, 0
	}
	for _, mf := range mfs {
		all += len(mf.GetMetric())
		if mf.GetName() == "push_stage_failures_total" {
			failures = len(mf.GetMetric())
		}
	}
	return all, failures
}

// render serves /metrics n times and returns the durations, the mean
// process CPU time per render and the size.
func render(h http.Handler, accept, encoding string, n int) ([]time.Duration, time.Duration, int) {
	var times []time.Duration
	size := 0
	cpu0 := cpuTime()
	for range n {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept", accept)
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		rec := httptest.NewRecorder()
		t := time.Now()
		h.ServeHTTP(rec, req)
		times = append(times, time.Since(t))
		size = rec.Body.Len()
	}
	return times, (cpuTime() - cpu0) / time.Duration(n), size
}

// synthTracer answers PushID "p<platform>-c<code>" with one instance on
// that platform whose seven stages all failed with error code 1000+code,
// at different delays so that the latency histograms fill several buckets.
type synthTracer struct{}

func (synthTracer) Trace(_ context.Context, id string) (*timapi.Trace, error) {
	ps, cs, _ := strings.Cut(strings.TrimPrefix(id, "p"), "-c")
	platform, _ := strconv.Atoi(ps)
	code, _ := strconv.Atoi(cs)
	pushed := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	in := timapi.Instance{InstanceID: "i1", PushTime: pushed, PushPlatform: platform, NotificationStatus: 0}
	for s := range timapi.NumStages {
		in.Stages[s] = timapi.StageResult{Status: timapi.StatusFailure, ErrorCode: 1000 + code,
			EventTime: pushed.Add(time.Duration(code*int(s+1)) * time.Second)}
	}
	return &timapi.Trace{PushID: id, Instances: []timapi.Instance{in}}, nil
}

// scrapeBreakdown times the parts of a render: the registry's Gather (Go,
// process and the collector's live metrics), which every render does, and
// for comparison the persisted series gathered as client_golang would (only
// a protobuf scrape does that: text renders copy them as kept rendered).
func scrapeBreakdown(c *pipeline, reg prometheus.Gatherer, n int) row {
	var gather, saved []time.Duration
	savedGatherer := exposition.Gatherer(c)
	for range n {
		t := time.Now()
		if _, err := reg.Gather(); err != nil {
			return row{bench: "scrape breakdown", figure: "ERROR: " + err.Error(), met: "error"}
		}
		gather = append(gather, time.Since(t))
		t = time.Now()
		if _, err := savedGatherer.Gather(); err != nil {
			return row{bench: "scrape breakdown", figure: "ERROR: " + err.Error(), met: "error"}
		}
		saved = append(saved, time.Since(t))
	}
	return row{
		bench: "scrape breakdown at the cardinality above (medians)",
		figure: fmt.Sprintf("registry Gather (Go, process, the collector's live metrics) %s; the rest of a text render copies the pre-rendered persisted series (and gzips); "+
			"gathering those series as client_golang would (protobuf scrapes only) %s", ms(percentile(gather, 50)), ms(percentile(saved, 50))),
	}
}

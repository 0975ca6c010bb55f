package acceptance

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/timpush/timpush_exporter/internal/simulator"
	"github.com/timpush/timpush_exporter/internal/taxonomy"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// samples is one scrape flattened: series name with its sorted labels
// (`name{a="x",b="y"}`) to value. Histograms appear as their _bucket,
// _sum and _count series.
type samples map[string]float64

// seriesName renders a series the way samples keys it.
func seriesName(name string, labelPairs ...string) string {
	if len(labelPairs) == 0 {
		return name
	}
	type kv struct{ k, v string }
	var kvs []kv
	for i := 0; i+1 < len(labelPairs); i += 2 {
		kvs = append(kvs, kv{labelPairs[i], labelPairs[i+1]})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].k < kvs[j].k })
	parts := make([]string, len(kvs))
	for i, p := range kvs {
		parts[i] = fmt.Sprintf("%s=%q", p.k, p.v)
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

var scrapeClient = &http.Client{Timeout: 2 * time.Second}

// scrape reads /metrics in the text format and flattens it.
func scrape(addr string) (samples, error) {
	s, _, err := scrapeTyped(addr)
	return s, err
}

// scrapeTyped is scrape that also returns the keys of the series of
// counters and histograms: those that may never go down.
func scrapeTyped(addr string) (samples, map[string]bool, error) {
	resp, err := scrapeClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("parse /metrics: %w", err)
	}
	out, monotonic := samples{}, map[string]bool{}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			var pairs []string
			for _, lp := range m.GetLabel() {
				pairs = append(pairs, lp.GetName(), lp.GetValue())
			}
			switch fam.GetType() {
			case dto.MetricType_COUNTER:
				out[seriesName(name, pairs...)] = m.GetCounter().GetValue()
				monotonic[seriesName(name, pairs...)] = true
			case dto.MetricType_GAUGE:
				out[seriesName(name, pairs...)] = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				out[seriesName(name, pairs...)] = m.GetUntyped().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					out[seriesName(name+"_bucket", append(pairs, "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))...)] = float64(b.GetCumulativeCount())
				}
				out[seriesName(name+"_bucket", append(pairs, "le", "+Inf")...)] = float64(h.GetSampleCount())
				out[seriesName(name+"_sum", pairs...)] = h.GetSampleSum()
				out[seriesName(name+"_count", pairs...)] = float64(h.GetSampleCount())
				for _, b := range h.GetBucket() {
					monotonic[seriesName(name+"_bucket", append(pairs, "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))...)] = true
				}
				monotonic[seriesName(name+"_bucket", append(pairs, "le", "+Inf")...)] = true
				monotonic[seriesName(name+"_sum", pairs...)] = true
				monotonic[seriesName(name+"_count", pairs...)] = true
			}
		}
	}
	return out, monotonic, nil
}

// mustScrape scrapes or fails the test.
func mustScrape(t *testing.T, addr string) samples {
	t.Helper()
	s, err := scrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// parseSeries splits a samples key into the metric name and its labels.
func parseSeries(key string) (string, map[string]string, error) {
	name, rest, ok := strings.Cut(key, "{")
	labels := map[string]string{}
	if !ok {
		return name, labels, nil
	}
	for rest != "}" {
		lname, after, ok := strings.Cut(rest, "=")
		if !ok {
			return "", nil, fmt.Errorf("series %q: no = after a label name", key)
		}
		quoted, err := strconv.QuotedPrefix(after)
		if err != nil {
			return "", nil, fmt.Errorf("series %q: %w", key, err)
		}
		labels[lname], _ = strconv.Unquote(quoted)
		rest = strings.TrimPrefix(after[len(quoted):], ",")
	}
	return name, labels, nil
}

// without returns s with the label dropped from every series, summing the
// series that then coincide, and the values the label had.
func (s samples) without(label string) (samples, map[string]bool) {
	out, values := samples{}, map[string]bool{}
	for k, v := range s {
		name, labels, err := parseSeries(k)
		if err != nil {
			panic(err) // keys are made by seriesName
		}
		if lv, ok := labels[label]; ok {
			values[lv] = true
			delete(labels, label)
		}
		var pairs []string
		for ln, lv := range labels {
			pairs = append(pairs, ln, lv)
		}
		out[seriesName(name, pairs...)] += v
	}
	return out, values
}

// get returns one series' value, 0 if absent.
func (s samples) get(name string, labelPairs ...string) float64 {
	return s[seriesName(name, labelPairs...)]
}

// family returns the series of the named metrics (exact names, for a
// histogram its _bucket, _sum and _count names).
func (s samples) family(names ...string) samples {
	out := samples{}
	for k, v := range s {
		for _, n := range names {
			if k == n || strings.HasPrefix(k, n+"{") {
				out[k] = v
			}
		}
	}
	return out
}

// Metric names the tests read.
const (
	mStage    = "push_stage_total"
	mFailures = "push_stage_failures_total"
	mSampled  = "timpush_exporter_pushids_sampled_total"
	mReceived = "timpush_exporter_pushids_received_total"
	mDup      = "timpush_exporter_pushids_duplicate_total"
	mDropped  = "timpush_exporter_pushids_dropped_total"
	mPending  = "timpush_exporter_pending_pushids"
	mChecked  = "timpush_exporter_last_checkpoint_timestamp_seconds"
)

// persisted returns the series of s that are counters the exporter keeps
// across restarts, which must never go down: the push_* counters and
// histograms (the outcomes users alert on) and timpush_exporter_pushids_*.
// monotonic is scrapeTyped's set of counter and histogram series.
func (s samples) persisted(monotonic map[string]bool) samples {
	out := samples{}
	for k, v := range s {
		if monotonic[k] && (strings.HasPrefix(k, "push_") || strings.HasPrefix(k, "timpush_exporter_pushids_")) {
			out[k] = v
		}
	}
	return out
}

// served is what the simulator says was delivered, as the exporter must
// count it: one push_stage_total per stage outcome in a complete reply,
// one push_stage_failures_total per failed one. It also returns the
// PushIDs whose traces were served.
func served(sim *simulator.Simulator) (samples, map[string]bool) {
	want := samples{}
	ids := map[string]bool{}
	for _, o := range sim.Revealed() {
		if o.SDKAppID != appID {
			continue
		}
		ids[o.PushID] = true
		platform := timapi.PlatformName(o.Platform)
		want[seriesName(mStage, "app", appName, "platform", platform, "stage", o.Stage)]++
		if o.Status == int(timapi.StatusFailure) {
			want[seriesName(mFailures, "app", appName, "platform", platform, "stage", o.Stage, "error_code", strconv.Itoa(o.ErrorCode))]++
		}
	}
	return want, ids
}

// compareWithServed checks that the exporter's stage counters are exactly
// the outcomes the simulator served, and that the traces served are those
// of exactly the PushIDs the test delivered (none lost, none made up: a
// rejected request's IDs are registered in the simulator too, so a trace
// of one of them would show here).
func compareWithServed(t *testing.T, got samples, sim *simulator.Simulator, delivered map[string]bool) {
	t.Helper()
	want, ids := served(sim)
	if len(want) == 0 {
		t.Fatal("the simulator served no stage outcome")
	}
	// push_stage_failures_total also has a reason label, derived from
	// the error code by the exporter's taxonomy: compared per error code,
	// and each reason must be in the documented vocabulary.
	failures, reasons := got.family(mFailures).without("reason")
	vocabulary := map[string]bool{}
	for _, r := range taxonomy.Reasons() {
		vocabulary[r] = true
	}
	for r := range reasons {
		if !vocabulary[r] {
			t.Errorf("%s has reason=%q, which is not in the taxonomy's vocabulary", mFailures, r)
		}
	}
	counted := got.family(mStage)
	for k, v := range failures {
		counted[k] = v
	}
	diffSamples(t, "counted", counted, "served", want)
	var lost, foreign []string
	for id := range delivered {
		if !ids[id] {
			lost = append(lost, id)
		}
	}
	for id := range ids {
		if !delivered[id] {
			foreign = append(foreign, id)
		}
	}
	sort.Strings(lost)
	sort.Strings(foreign)
	if len(lost) > 0 {
		t.Errorf("%d delivered PushIDs were never traced (lost): %v", len(lost), firstN(lost, 20))
	}
	if len(foreign) > 0 {
		t.Errorf("%d PushIDs were traced that were never legitimately delivered: %v", len(foreign), firstN(foreign, 20))
	}
	total := 0.0
	for k, v := range want {
		if strings.HasPrefix(k, mStage+"{") {
			total += v
		}
	}
	t.Logf("%d PushIDs traced, %v stage outcomes served, %d series compared", len(ids), total, len(want))
}

// diffSamples reports every series whose value differs between got and want.
func diffSamples(t *testing.T, gotName string, got samples, wantName string, want samples) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			diffs = append(diffs, fmt.Sprintf("%s: %s %v, %s %v", k, gotName, g, wantName, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: %s %v, %s nothing", k, gotName, g, wantName))
		}
	}
	sort.Strings(diffs)
	for _, d := range firstN(diffs, 40) {
		t.Error(d)
	}
	if len(diffs) > 40 {
		t.Errorf("… and %d more differences", len(diffs)-40)
	}
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// settle waits until the exporter has sampled at least wantSampled PushIDs,
// none is pending any more, and a checkpoint saved after that moment is
// being served, then returns that scrape. The last query of a PushID seen
// at t runs at t+lastQuery, later if the rate limit makes queries queue.
func settle(t *testing.T, e *exporter, wantSampled int, timeout time.Duration) samples {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var (
		last    samples
		quietAt float64 // unix seconds at which nothing was pending
	)
	err := e.await(ctx, 500*time.Millisecond, func() bool {
		s, err := scrape(e.metricsAddr())
		if err != nil {
			return false
		}
		last = s
		done := s.get(mPending, "app", appName) == 0 && s.get(mSampled, "app", appName) >= float64(wantSampled)
		switch {
		case !done:
			quietAt = 0
		case quietAt == 0:
			quietAt = float64(time.Now().UnixNano()) / 1e9
		case s.get(mChecked) > quietAt:
			return true
		}
		return false
	})
	if err != nil {
		t.Fatalf("not settled (%v): sampled %v of %d, pending %v, dropped %v",
			err, last.get(mSampled, "app", appName), wantSampled, last.get(mPending, "app", appName), last.family(mDropped))
	}
	return last
}

// checkSampled compares the PushID bookkeeping counters with what the test
// delivered.
func checkSampled(t *testing.T, s samples, distinct int) {
	t.Helper()
	if got := s.get(mSampled, "app", appName); got != float64(distinct) {
		t.Errorf("%s = %v, want %d (the distinct PushIDs legitimately delivered)", mSampled, got, distinct)
	}
	for k, v := range s.family(mDropped) {
		if v != 0 {
			t.Errorf("%s = %v: a PushID was given up", k, v)
		}
	}
}

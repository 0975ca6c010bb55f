package exposition

import (
	"bytes"
	"cmp"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TestRandomPagesMatchPromhttp keeps the hand-written encoders honest:
// seeded random pages (counter and histogram families pre-rendered;
// counter, gauge, histogram and summary families in the ordinary registry
// next to them) are served by Handler and by promhttp, for every format and
// escaping scheme a client can ask for, plain and gzipped, and the pages
// must be equal byte for byte. The reference is built from the random
// series with client_golang's own constructors, not through Gatherer, so a
// rule the families copy (which exemplars are dropped, how a histogram is
// completed) is checked too. A client_golang or common upgrade that changes
// the format fails here.
func TestRandomPagesMatchPromhttp(t *testing.T) {
	rounds := 20 // about 2 s; 15 s under -race on the 2-core CI machine
	if testing.Short() {
		rounds = 5
	}
	for seed := range uint64(rounds) {
		comparePage(t, rand.New(rand.NewPCG(seed, 15)))
	}
}

// FuzzPage is the same comparison from other seeds:
// go test -fuzz FuzzPage ./internal/exposition.
func FuzzPage(f *testing.F) {
	f.Add(uint64(1), uint64(15))
	f.Fuzz(func(t *testing.T, seed, stream uint64) {
		comparePage(t, rand.New(rand.NewPCG(seed, stream)))
	})
}

func comparePage(t *testing.T, rng *rand.Rand) {
	t.Helper()
	reg, fams, ref := randomPage(rng)
	ours := Handler(reg, fams, HandlerOpts{})
	theirs := promhttp.HandlerFor(ref, promhttp.HandlerOpts{EnableOpenMetrics: true})
	filter := "/metrics?name[]=" + fams[rng.IntN(len(fams))].Name()
	for _, accept := range randomAccepts {
		for _, encoding := range []string{"", "gzip"} {
			targets := []string{"/metrics", filter}
			if encoding != "" {
				targets = targets[:1] // the filter does not depend on the encoding
			}
			for _, target := range targets {
				gotResp, got := get(t, ours, target, accept, encoding)
				wantResp, want := get(t, theirs, target, accept, encoding)
				for _, h := range []string{"Content-Type", "Content-Encoding"} {
					if g, w := gotResp.Header.Get(h), wantResp.Header.Get(h); g != w {
						t.Errorf("Accept %q, Accept-Encoding %q: %s %q, want %q", accept, encoding, h, g, w)
					}
				}
				if gotResp.StatusCode != http.StatusOK || wantResp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
					t.Fatalf("Accept %q, Accept-Encoding %q, %s: status %d (promhttp %d), page differs from promhttp's:\n%s",
						accept, encoding, target, gotResp.StatusCode, wantResp.StatusCode, lineDiff(got, want))
				}
			}
		}
	}
}

// randomAccepts are the Accept headers compared: each format the handler
// offers, with each escaping scheme, what Prometheus sends, and headers
// that fall back to the text format.
var randomAccepts = func() []string {
	var out []string
	for _, f := range []string{"text/plain;version=0.0.4", "application/openmetrics-text;version=1.0.0", "application/openmetrics-text;version=0.0.1"} {
		out = append(out, f)
		for _, e := range []string{"underscores", "dots", "values", "allow-utf-8"} {
			out = append(out, f+";escaping="+e)
		}
	}
	return append(out, "", "*/*", acceptPrometheus, "application/openmetrics-text", "application/openmetrics-text;version=2.0.0",
		"text/plain;version=1.0.0;escaping=allow-utf-8",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text")
}()

// metrics is an unchecked collector of fixed metrics.
type metrics []prometheus.Metric

func (metrics) Describe(chan<- *prometheus.Desc) {}
func (m metrics) Collect(ch chan<- prometheus.Metric) {
	for _, x := range m {
		ch <- x
	}
}

// randomPage returns an ordinary registry, pre-rendered families and the
// reference: a registry with the same ordinary metrics and the families'
// series made by client_golang's constructors.
func randomPage(rng *rand.Rand) (*prometheus.Registry, families, *prometheus.Registry) {
	used := map[string]bool{}
	uniqueName := func() string {
		for {
			n := randomMetricName(rng)
			// No name that another family's series would also use
			// (foo_count beside a histogram foo): the registry rejects that.
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_total"), "_bucket"), "_sum"), "_count")
			if !used[n] && !used[base] {
				used[n], used[base] = true, true
				return n
			}
		}
	}
	var fams families
	var refMetrics, regMetrics metrics
	for range 1 + rng.IntN(5) {
		f, ms := randomFamily(rng, uniqueName())
		fams = append(fams, f)
		refMetrics = append(refMetrics, ms...)
	}
	slices.SortFunc(fams, func(a, b *Family) int { return cmp.Compare(a.Name(), b.Name()) })
	for range rng.IntN(4) {
		regMetrics = append(regMetrics, randomOrdinary(rng, uniqueName())...)
	}
	reg, ref := prometheus.NewPedanticRegistry(), prometheus.NewPedanticRegistry()
	reg.MustRegister(regMetrics)
	ref.MustRegister(regMetrics, refMetrics)
	return reg, fams, ref
}

// randomFamily returns a counter or histogram family with random series
// (some given twice: the last wins) and the same series as client_golang
// metrics.
func randomFamily(rng *rand.Rand, name string) (*Family, []prometheus.Metric) {
	d := Desc{Name: name, Help: randomText(rng, true)}
	if rng.IntN(2) == 0 {
		d.Type = Histogram
		d.Buckets = randomBuckets(rng)
	}
	d.Labels = randomLabelNames(rng, d.Type == Histogram, false)
	f := NewFamily(d)
	prom := prometheus.NewDesc(d.Name, d.Help, d.Labels, nil)

	last := map[string]Sample{}
	var keys []string
	for range 1 + rng.IntN(3) { // several With calls
		var batch []Sample
		for range rng.IntN(12) {
			s := randomSample(rng, &d)
			batch = append(batch, s)
			k := strings.Join(s.Labels, "\xff")
			if _, ok := last[k]; !ok {
				keys = append(keys, k)
			}
			last[k] = s
		}
		f = f.With(batch)
	}
	if len(keys) == 0 { // at least one series, so that the family is on the page
		s := randomSample(rng, &d)
		f = f.With([]Sample{s})
		keys, last[""] = []string{""}, s
	}
	var ms []prometheus.Metric
	for _, k := range keys {
		ms = append(ms, referenceMetric(prom, &d, last[k]))
	}
	return f, ms
}

// referenceMetric is s made by client_golang: an exemplar it rejects is
// left out, as the family does.
func referenceMetric(prom *prometheus.Desc, d *Desc, s Sample) prometheus.Metric {
	if d.Type == Histogram {
		buckets := map[float64]uint64{}
		for i, ub := range d.Buckets {
			buckets[ub] = s.Buckets[i]
		}
		return prometheus.MustNewConstHistogram(prom, s.Count, s.Sum, buckets, s.Labels...)
	}
	m := prometheus.MustNewConstMetric(prom, prometheus.CounterValue, s.Value, s.Labels...)
	if e := s.Exemplar; e != nil {
		if withE, err := prometheus.NewMetricWithExemplars(m, prometheus.Exemplar{
			Value: e.Value, Labels: prometheus.Labels{e.Label: e.LabelValue}, Timestamp: e.Time,
		}); err == nil {
			return withE
		}
	}
	return m
}

func randomSample(rng *rand.Rand, d *Desc) Sample {
	s := Sample{}
	for range d.Labels {
		s.Labels = append(s.Labels, randomText(rng, false))
	}
	if d.Type == Histogram {
		var c uint64
		for range d.Buckets {
			c = randomCount(rng, c)
			s.Buckets = append(s.Buckets, c)
		}
		s.Count, s.Sum = randomCount(rng, c), randomFloat(rng)
		return s
	}
	s.Value = randomFloat(rng)
	if rng.IntN(2) == 0 {
		s.Exemplar = randomExemplar(rng)
	}
	return s
}

// randomExemplar is valid more often than not; the rest break one rule
// client_golang checks (name, UTF-8, 128 runes, the year). A zero time is
// not made: client_golang would stamp it with the time of the scrape,
// while a family leaves such an exemplar out.
func randomExemplar(rng *rand.Rand) *Exemplar {
	e := &Exemplar{Label: "push_id", LabelValue: randomText(rng, false), Value: randomFloat(rng),
		Time: time.Unix(rng.Int64N(4e9)-1e9, rng.Int64N(1e9))}
	switch rng.IntN(8) {
	case 0:
		e.Label = []string{"bad-name", "__reserved", "", "ünï", randomLabelName(rng)}[rng.IntN(5)]
	case 1:
		e.LabelValue = strings.Repeat("ü", 128-len(e.Label)+rng.IntN(2)) // at the limit, or one over
	case 2:
		e.LabelValue += "\xff"
	case 3:
		e.Time = time.Date([]int{1, 9999, 10000, 1677, 2263}[rng.IntN(5)], 6, 1, 0, 0, 0, rng.IntN(1e9), time.UTC)
	}
	return e
}

// randomOrdinary returns a family for the ordinary registry: counter,
// gauge, histogram or summary.
func randomOrdinary(rng *rand.Rand, name string) []prometheus.Metric {
	kind := rng.IntN(4)
	labels := randomLabelNames(rng, kind == 2, kind == 3)
	prom := prometheus.NewDesc(name, randomText(rng, true), labels, nil)
	var ms []prometheus.Metric
	seen := map[string]bool{}
	for range 1 + rng.IntN(4) {
		var values []string
		for range labels {
			values = append(values, randomText(rng, false))
		}
		if k := strings.Join(values, "\xff"); seen[k] {
			continue
		} else {
			seen[k] = true
		}
		switch kind {
		case 0:
			ms = append(ms, prometheus.MustNewConstMetric(prom, prometheus.CounterValue, randomFloat(rng), values...))
		case 1:
			ms = append(ms, prometheus.MustNewConstMetric(prom, prometheus.GaugeValue, randomFloat(rng), values...))
		case 2:
			buckets := map[float64]uint64{}
			var c uint64
			for _, ub := range randomBuckets(rng) {
				c = randomCount(rng, c)
				buckets[ub] = c
			}
			ms = append(ms, prometheus.MustNewConstHistogram(prom, randomCount(rng, c), randomFloat(rng), buckets, values...))
		case 3:
			quantiles := map[float64]float64{}
			for range rng.IntN(4) {
				quantiles[rng.Float64()] = randomFloat(rng)
			}
			ms = append(ms, prometheus.MustNewConstSummary(prom, rng.Uint64(), randomFloat(rng), quantiles, values...))
		}
	}
	return ms
}

const (
	nameFirst = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
	nameRest  = nameFirst + "0123456789"
)

func randomMetricName(rng *rand.Rand) string {
	n := randomIdent(rng, nameFirst+":", nameRest+":")
	switch rng.IntN(4) {
	case 0:
		n += "_total"
	case 1:
		n += "_seconds"
	}
	return n
}

func randomLabelName(rng *rand.Rand) string {
	for {
		if n := randomIdent(rng, nameFirst, nameRest); !strings.HasPrefix(n, "__") {
			return n
		}
	}
}

func randomIdent(rng *rand.Rand, first, rest string) string {
	b := []byte{first[rng.IntN(len(first))]}
	for range rng.IntN(10) {
		b = append(b, rest[rng.IntN(len(rest))])
	}
	return string(b)
}

// randomLabelNames are 0–4 distinct names in random order, sometimes
// "le" or "quantile" where the type allows it.
func randomLabelNames(rng *rand.Rand, histogram, summary bool) []string {
	var names []string
	for range rng.IntN(5) {
		n := randomLabelName(rng)
		switch rng.IntN(6) {
		case 0:
			n = "le"
		case 1:
			n = "quantile"
		}
		if (n == "le" && histogram) || (n == "quantile" && summary) || slices.Contains(names, n) {
			continue
		}
		names = append(names, n)
	}
	return names
}

// textPieces are what help texts and label values are made of: the
// characters the formats escape, ones they must not, and UTF-8.
var textPieces = []string{"a", "Z", "0", " ", `\`, "\n", `"`, `\n`, `\"`, "\t", "\r", "\x00", "#", "{", "}", "=", ",",
	"ü", "✓", "😀", "\u2028", "\ufeff", "le", "NaN", "+Inf", "EOF"}

// randomText is a help text (help: also invalid UTF-8, which a help text
// may carry) or a label value (valid UTF-8, possibly empty).
func randomText(rng *rand.Rand, help bool) string {
	var b strings.Builder
	for range rng.IntN(8) {
		b.WriteString(textPieces[rng.IntN(len(textPieces))])
	}
	if help && rng.IntN(10) == 0 {
		b.WriteString("\xff")
	}
	return b.String()
}

// randomFloat draws from edges of float formatting: signed zeros,
// NaN (with payloads), infinities, integers that print with and without
// exponents, subnormals, and arbitrary bit patterns.
func randomFloat(rng *rand.Rand) float64 {
	switch rng.IntN(7) {
	case 0:
		return edgeValues[rng.IntN(len(edgeValues))]
	case 1:
		return math.Float64frombits(rng.Uint64())
	case 2:
		return float64(rng.Int64N(2e6) - 1e6)
	case 3:
		return float64(rng.Uint64() >> rng.IntN(64))
	case 4:
		return math.Ldexp(rng.Float64(), rng.IntN(2100)-1075) // down to subnormals, up to +Inf
	case 5:
		return float64(rng.IntN(2000)-1000) * math.Pow10(rng.IntN(44)-22)
	}
	return rng.NormFloat64()
}

// randomCount is a cumulative count ≥ prev: small steps, sometimes up to
// where float64 loses integers, sometimes to the top of uint64.
func randomCount(rng *rand.Rand, prev uint64) uint64 {
	switch rng.IntN(6) {
	case 0:
		return prev
	case 1:
		return prev + (math.MaxUint64-prev)/uint64(1+rng.IntN(3))
	case 2:
		return max(prev, 1<<53+uint64(rng.IntN(3)))
	}
	return prev + uint64(rng.IntN(1000))
}

// randomBuckets are 1–6 ascending upper bounds, sometimes starting at -Inf.
func randomBuckets(rng *rand.Rand) []float64 {
	var b []float64
	if rng.IntN(8) == 0 {
		b = append(b, math.Inf(-1))
	}
	for range 1 + rng.IntN(6) {
		v := randomFloat(rng)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		b = append(b, v)
	}
	slices.Sort(b)
	b = slices.Compact(b)
	if len(b) == 0 {
		b = []float64{1}
	}
	return b
}

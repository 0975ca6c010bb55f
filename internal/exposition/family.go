// Package exposition keeps metric families rendered as exposition text, so
// that a scrape of tens of thousands of series copies bytes instead of
// making, gathering, sorting and encoding a metric per series.
//
// A Family renders each series in the Prometheus text format 0.0.4 and in
// OpenMetrics 1.0 exactly as client_golang would print it, and keeps its
// series in the order client_golang's Gather sorts them. It is immutable:
// With re-renders only the series given. Handler serves such families next
// to an ordinary registry; Gatherer gives them as client_golang gathers them
// (the reference the tests compare with).
package exposition

import (
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// Family is one metric family's series, sorted and rendered.
type Family struct {
	desc   Desc
	names  []string // Desc.Labels sorted: the order client_golang writes labels in
	order  []int    // names[i] is Desc.Labels[order[i]]
	header [numFormats][]byte
	le     [numFormats][][]byte // a histogram's bucket bounds, rendered
	prom   *prometheus.Desc     // for Gatherer
	series []*series            // sorted by key
	gz     *gzipCache           // the series compressed, for gzip scrapes
}

type series struct {
	Sample
	key   []string           // label values in names order: the sort key
	lines [numFormats][]byte // every line of the series, per format
	cut   bool               // a gzip chunk ends after this series (gzip.go)
}

// NewFamily returns an empty family. It panics on a Desc that cannot be
// written without quoting (or that client_golang would reject): families
// are declared once, like prometheus.MustNewConstMetric's descriptors.
func NewFamily(d Desc) *Family {
	if !model.LegacyValidation.IsValidMetricName(d.Name) {
		panic(fmt.Sprintf("exposition: invalid metric name %q", d.Name))
	}
	f := &Family{desc: d, names: slices.Clone(d.Labels), order: make([]int, len(d.Labels)), gz: newGzipCache(nil)}
	slices.Sort(f.names)
	for i, n := range f.names {
		if !model.LegacyValidation.IsValidLabelName(n) || strings.HasPrefix(n, "__") || (d.Type == Histogram && n == "le") ||
			(i > 0 && n == f.names[i-1]) {
			panic(fmt.Sprintf("exposition: %s: invalid or repeated label name %q", d.Name, n))
		}
		f.order[i] = slices.Index(d.Labels, n)
	}
	if d.Type == Histogram && !validBuckets(d.Buckets) {
		panic(fmt.Sprintf("exposition: %s: buckets must be strictly ascending, without NaN or +Inf", d.Name))
	}
	for fm := range numFormats {
		f.header[fm] = d.header(fm)
		for _, ub := range d.Buckets {
			f.le[fm] = append(f.le[fm], appendFloat(nil, fm, ub))
		}
	}
	f.prom = prometheus.NewDesc(d.Name, d.Help, d.Labels, nil)
	return f
}

// validBuckets: a bound twice would be one bucket to client_golang (its
// buckets are a map), and NaN has no place in the order.
func validBuckets(b []float64) bool {
	for i, ub := range b {
		if math.IsNaN(ub) || math.IsInf(ub, +1) || (i > 0 && ub <= b[i-1]) {
			return false
		}
	}
	return true
}

// Name is the family's name as registered (e.g. push_stage_total).
func (f *Family) Name() string { return f.desc.Name }

// PromDesc is the family's prometheus.Desc (to describe it in a collector).
func (f *Family) PromDesc() *prometheus.Desc { return f.prom }

// Len is the number of series.
func (f *Family) Len() int { return len(f.series) }

// With returns a copy of f with the given series rendered: a series with
// the same labels is replaced, a new one added. f is not modified, and the
// copy shares every series it did not change, so the cost is rendering the
// samples given plus copying one pointer per series.
func (f *Family) With(samples []Sample) *Family {
	if len(samples) == 0 {
		return f
	}
	changed := make([]*series, len(samples))
	for i, s := range samples {
		changed[i] = f.render(s)
	}
	slices.SortStableFunc(changed, func(a, b *series) int { return slices.Compare(a.key, b.key) })

	next := *f
	next.gz = newGzipCache(f.gz)
	next.series = make([]*series, 0, len(f.series)+len(changed))
	rest := f.series
	for _, s := range changed {
		i, found := slices.BinarySearchFunc(rest, s.key, compareKey)
		next.series = append(next.series, rest[:i]...)
		if found {
			i++
		}
		rest = rest[i:]
		if n := len(next.series); n > 0 && slices.Equal(next.series[n-1].key, s.key) {
			next.series[n-1] = s // the same labels twice in samples: the last wins
		} else {
			next.series = append(next.series, s)
		}
	}
	next.series = append(next.series, rest...)
	return &next
}

func compareKey(s *series, key []string) int { return slices.Compare(s.key, key) }

// Lookup returns the sample of the series with these label values (in
// Desc.Labels order).
func (f *Family) Lookup(labels ...string) (Sample, bool) {
	if len(labels) != len(f.order) {
		return Sample{}, false
	}
	key := make([]string, len(f.order))
	for i, j := range f.order {
		key[i] = labels[j]
	}
	i, found := slices.BinarySearchFunc(f.series, key, compareKey)
	if !found {
		return Sample{}, false
	}
	return f.series[i].Sample, true
}

// Samples yields every series' sample in order.
func (f *Family) Samples() iter.Seq[Sample] {
	return func(yield func(Sample) bool) {
		for _, s := range f.series {
			if !yield(s.Sample) {
				return
			}
		}
	}
}

// render checks a sample as client_golang would (a wrong number of labels
// or buckets is a bug and panics, as in MustNewConstMetric; an exemplar it
// would reject is left out) and renders it in every format, in one buffer.
func (f *Family) render(s Sample) *series {
	if len(s.Labels) != len(f.desc.Labels) || (f.desc.Type == Histogram && len(s.Buckets) != len(f.desc.Buckets)) {
		panic(fmt.Sprintf("exposition: %s: %d label values and %d buckets, want %d and %d",
			f.desc.Name, len(s.Labels), len(s.Buckets), len(f.desc.Labels), len(f.desc.Buckets)))
	}
	if s.Exemplar != nil && !validExemplar(s.Exemplar) {
		s.Exemplar = nil
	}
	r := &series{Sample: s, key: make([]string, len(f.order))}
	for i, j := range f.order {
		r.key[i] = s.Labels[j]
	}
	r.cut = isCut(r.key)
	buf := make([]byte, 0, 256)
	var start int
	for fm := range numFormats {
		buf = f.desc.appendSeries(buf, fm, f.names, r.key, f.le[fm], &r.Sample)
		r.lines[fm] = buf[start:len(buf):len(buf)]
		start = len(buf)
	}
	return r
}

// validExemplar is what prometheus.NewMetricWithExemplars accepts (any
// UTF-8 label name, as client_golang validates names; and a timestamp that
// must be set, where client_golang would stamp the time of the scrape).
func validExemplar(e *Exemplar) bool {
	year := e.Time.UTC().Year()
	return model.UTF8Validation.IsValidLabelName(e.Label) && !strings.HasPrefix(e.Label, "__") &&
		utf8.ValidString(e.LabelValue) &&
		utf8.RuneCountInString(e.Label)+utf8.RuneCountInString(e.LabelValue) <= prometheus.ExemplarMaxRunes &&
		!e.Time.IsZero() && year >= 1 && year <= 9999
}

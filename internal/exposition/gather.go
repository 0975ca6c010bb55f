package exposition

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Source gives the families to serve, all as of one moment, sorted by name.
type Source interface {
	Families() []*Family
}

// Gatherer returns the families of src as client_golang gathers them: each
// sample made into a const metric (with its exemplar), gathered, checked and
// sorted by a registry of its own. That is what the pre-rendering avoids on
// /metrics; it is used for protobuf scrapes, by tests and tools that read
// values through Gather, and as the reference the rendering is tested
// against.
func Gatherer(src Source) prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	reg.MustRegister(constCollector{src})
	return reg
}

type constCollector struct{ src Source }

// Describe sends nothing: the collector is unchecked, as its families are
// only known when collected.
func (constCollector) Describe(chan<- *prometheus.Desc) {}

func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.src.Families() {
		for s := range f.Samples() {
			ch <- f.constMetric(s)
		}
	}
}

func (f *Family) constMetric(s Sample) prometheus.Metric {
	if f.desc.Type == Histogram {
		buckets := make(map[float64]uint64, len(f.desc.Buckets))
		for i, ub := range f.desc.Buckets {
			buckets[ub] = s.Buckets[i]
		}
		return prometheus.MustNewConstHistogram(f.prom, s.Count, s.Sum, buckets, s.Labels...)
	}
	m := prometheus.MustNewConstMetric(f.prom, prometheus.CounterValue, s.Value, s.Labels...)
	if e := s.Exemplar; e != nil {
		return prometheus.MustNewMetricWithExemplars(m, prometheus.Exemplar{
			Value: e.Value, Labels: prometheus.Labels{e.Label: e.LabelValue}, Timestamp: e.Time,
		})
	}
	return m
}

package main

import "github.com/prometheus/client_golang/prometheus"

// gatherSum sums the values of the metric family name whose labels include
// match (nil: all), counters and gauges alike.
func gatherSum(g prometheus.Gatherer, name string, match map[string]string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for k, v := range match {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// gatherHistogramCount is the sample count of an unlabelled histogram.
func gatherHistogramCount(g prometheus.Gatherer, name string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return float64(mf.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	return 0
}

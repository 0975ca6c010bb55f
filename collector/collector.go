// Package collector is the Prometheus face of timpush_exporter's pipeline:
// it serves the series the ledger saved at its last checkpoint (kept
// rendered, see internal/exposition) and the live gauges of the ledger and
// the scheduler. It holds no state of its own; no API call happens here.
package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/exposition"
	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/scheduler"
)

const ns = "timpush_exporter"

var (
	descPending = prometheus.NewDesc(ns+"_pending_pushids",
		"Sampled PushIDs waiting for a query or requery.", []string{"app"}, nil)
	descUp = prometheus.NewDesc(ns+"_app_up",
		"1 when the app's last trace query was accepted, 0 while the API rejects its configuration or its replies cannot be read.", []string{"app"}, nil)
	descRateLimit = prometheus.NewDesc(ns+"_rate_limit",
		"Configured trace queries per second for the app.", []string{"app"}, nil)
	descSampleRatio = prometheus.NewDesc(ns+"_sample_ratio",
		"Share of PushIDs traced for the app: the configured ratio, or the one in force with sample_ratio: auto.", []string{"app"}, nil)
	descLastCheckpoint = prometheus.NewDesc(ns+"_last_checkpoint_timestamp_seconds",
		"When the served counters were last saved.", nil, nil)
)

// Collector implements prometheus.Collector for the gauges and the
// process metrics of the pipeline, and exposition.Source for the saved
// series.
type Collector struct {
	ledger    *ledger.Ledger
	scheduler *scheduler.Scheduler
	process   []prometheus.Collector
}

// New returns the collector of l and s. Register it (and nothing global)
// on a registry, and serve Families next to it (exposition.Handler).
func New(l *ledger.Ledger, s *scheduler.Scheduler) *Collector {
	return &Collector{ledger: l, scheduler: s, process: append(l.Collectors(), s.Collectors()...)}
}

// Families implements exposition.Source: the saved series as the last
// checkpoint saved them, rendered, sorted by name.
func (c *Collector) Families() []*exposition.Family { return c.ledger.Snapshot().Families() }

// Describe implements prometheus.Collector. It describes the saved
// families too, although Collect does not send them: registering another
// collector with one of their names then fails at once, instead of every
// scrape (a page with a family twice is rejected by Prometheus).
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range c.Families() {
		ch <- f.PromDesc()
	}
	ch <- descPending
	ch <- descUp
	ch <- descRateLimit
	ch <- descSampleRatio
	ch <- descLastCheckpoint
	for _, m := range c.process {
		m.Describe(ch)
	}
}

// Collect implements prometheus.Collector for what is not saved.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if at := c.ledger.Snapshot().At(); !at.IsZero() {
		ch <- prometheus.MustNewConstMetric(descLastCheckpoint, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
	}
	for name, st := range c.scheduler.States() {
		up := 0.0
		if st.Up {
			up = 1
		}
		if n, ok := c.ledger.Pending(name); ok {
			ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(n), name)
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, name)
		ch <- prometheus.MustNewConstMetric(descRateLimit, prometheus.GaugeValue, st.RateLimit, name)
		ch <- prometheus.MustNewConstMetric(descSampleRatio, prometheus.GaugeValue, st.SampleRatio, name)
	}
	for _, m := range c.process {
		m.Collect(ch)
	}
}

package statistics

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

const ns = "timpush_exporter"

// Descriptors. The push_* metrics describe Tencent's data and carry no
// exporter prefix; the exporter's own bookkeeping is prefixed.
var (
	descStatistics = prometheus.NewDesc("push_statistics_pushes",
		"Unsampled single and group message pushes in the last 24 hours, from normal_push_statistics: "+
			"kind total (sendable), sent, delivered or clicked. platform=\"all\" is Tencent's overall count, not a sum of the platform series.",
		[]string{"app", "platform", "kind"}, nil)
	descLoss = prometheus.NewDesc("push_loss_pushes",
		"Pushes lost in the last 24 hours, from normal_push_loss, by error code: phase ready_to_send (before the vendor accepted them) "+
			"or post_send_delivered (accepted, not delivered). platform=\"all\" is Tencent's overall list. "+
			"Codes beyond the 50 with the most losses per app and phase are summed in error_code=\"other\".",
		[]string{"app", "platform", "phase", "error_code"}, nil)
	descLossInfo = prometheus.NewDesc("push_loss_reason_info",
		"Tencent's text (ErrInfo) for a push_loss_pushes error code, at most 100 characters; different texts for one code are joined with \" | \". Always 1.",
		[]string{"app", "platform", "phase", "error_code", "error_info"}, nil)
	descLastSuccess = prometheus.NewDesc(ns+"_statistics_last_success_timestamp_seconds",
		"When the last poll of the API succeeded; the push_statistics_* and push_loss_* values are from then.",
		[]string{"app", "api"}, nil)
	descPolls = prometheus.NewDesc(ns+"_statistics_polls_total",
		"Polls of normal_push_statistics and normal_push_loss by result (ok, error), after the client's retries. A failed poll keeps the previous values.",
		[]string{"app", "api", "result"}, nil)
)

// Collector exports the last successful replies of every app's Poller.
// It reads the pollers' snapshots: a scrape never calls the API.
type Collector struct {
	mu      sync.Mutex
	pollers []*Poller
}

// NewCollector returns a collector registered with reg. Register it once
// for the process; Set changes the apps it reports.
func NewCollector(reg prometheus.Registerer) *Collector {
	c := &Collector{}
	reg.MustRegister(c)
	return c
}

// Set replaces the pollers reported, one per app (names must be unique),
// on start and on reload. A new poller takes over the values, counters and
// schedule of the old poller of its app: call Set after the old pollers
// have stopped and before the new ones run. Apps left out disappear.
func (c *Collector) Set(pollers []*Poller) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := make(map[string]*Poller, len(c.pollers))
	for _, p := range c.pollers {
		old[p.app] = p
	}
	for _, p := range pollers {
		if o := old[p.app]; o != nil && o != p {
			p.inherit(o)
		}
	}
	c.pollers = slices.Clone(pollers)
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStatistics, descLoss, descLossInfo, descLastSuccess, descPolls} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	pollers := slices.Clone(c.pollers)
	c.mu.Unlock()
	for _, p := range pollers {
		st := p.snapshot()
		for api, a := range st.apis {
			name := apiNames[api]
			ch <- prometheus.MustNewConstMetric(descPolls, prometheus.CounterValue, float64(a.ok), p.app, name, "ok")
			ch <- prometheus.MustNewConstMetric(descPolls, prometheus.CounterValue, float64(a.failed), p.app, name, "error")
			if !a.success.IsZero() {
				ch <- prometheus.MustNewConstMetric(descLastSuccess, prometheus.GaugeValue, float64(a.success.UnixNano())/1e9, p.app, name)
			}
		}
		gauges(ch, descStatistics, p.app, st.apis[apiStatistics].gauges)
		gauges(ch, descLoss, p.app, st.apis[apiLoss].gauges)
		gauges(ch, descLossInfo, p.app, st.apis[apiLoss].info)
	}
}

func gauges(ch chan<- prometheus.Metric, d *prometheus.Desc, app string, points []point) {
	for _, pt := range points {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, pt.value, append([]string{app}, pt.labels...)...)
	}
}

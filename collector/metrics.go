package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/exposition"
)

const ns = "timpush_exporter"

// savedDescs describe the persisted series, indexed by metricID. The
// push_* metrics describe Tencent's pushes and carry no exporter prefix; the
// exporter's own bookkeeping is prefixed timpush_exporter_. They are served
// pre-rendered (see snapshot), not collected.
var savedDescs = map[metricID]exposition.Desc{
	mStage: {Name: "push_stage_total",
		Help:   "Sampled push stage outcomes reported by the trace API (success and failure), each counted once.",
		Labels: []string{"app", "platform", "stage"}},
	mFailures: {Name: "push_stage_failures_total",
		Help:   "Sampled push stage outcomes that failed, by vendor error code (capped per app; beyond the cap \"other\") and reason (a small shared vocabulary, see README).",
		Labels: []string{"app", "platform", "stage", "error_code", "reason"}},
	mLatency: {Name: "push_stage_latency_seconds", Type: exposition.Histogram, Buckets: latencyBuckets,
		Help:   "Time from PushTime to the stage's EventTime, for reported outcomes (negative differences are not observed).",
		Labels: []string{"app", "platform", "stage"}},
	mInstances: {Name: "push_instances_total",
		Help:   "Sampled push deliveries to IM instances (devices/logins), each counted once.",
		Labels: []string{"app", "platform"}},
	mNotificationDisabled: {Name: "push_notification_disabled_total",
		Help:   "Sampled push instances whose notification bar was reported disabled (NotificationStatus 0).",
		Labels: []string{"app", "platform"}},
	mUnreported: {Name: "push_stage_unreported_total",
		Help:   "Stages still unreported after a successful previous stage when a push was finished (after its last requery).",
		Labels: []string{"app", "platform", "stage"}},
	mReceived: {Name: ns + "_pushids_received_total",
		Help:   "PushIDs received from sources, duplicates included.",
		Labels: []string{"app", "source"}},
	mSampled: {Name: ns + "_pushids_sampled_total",
		Help:   "PushIDs selected for tracing by sampling (first sightings only).",
		Labels: []string{"app"}},
	mDropped: {Name: ns + "_pushids_dropped_total",
		Help:   "Sampled PushIDs given up before they were finished, by reason.",
		Labels: []string{"app", "reason"}},
	mDuplicates: {Name: ns + "_pushids_duplicate_total",
		Help:   "Sampled PushIDs received again while pending or within the 7-day dedup window; ignored.",
		Labels: []string{"app"}},
}

func (k seriesKey) labelValues() []string {
	switch k.metric {
	case mStage, mLatency, mUnreported:
		return []string{k.app, k.platform, k.stage}
	case mFailures:
		return []string{k.app, k.platform, k.stage, k.extra, k.reason}
	case mInstances, mNotificationDisabled:
		return []string{k.app, k.platform}
	case mReceived, mDropped:
		return []string{k.app, k.extra}
	default:
		return []string{k.app}
	}
}

var (
	descPending = prometheus.NewDesc(ns+"_pending_pushids",
		"Sampled PushIDs waiting for a query or requery.", []string{"app"}, nil)
	descUp = prometheus.NewDesc(ns+"_app_up",
		"1 when the app's last trace query was accepted, 0 while the API rejects its configuration.", []string{"app"}, nil)
	descRateLimit = prometheus.NewDesc(ns+"_rate_limit",
		"Configured trace queries per second for the app.", []string{"app"}, nil)
	descSampleRatio = prometheus.NewDesc(ns+"_sample_ratio",
		"Share of PushIDs traced for the app: the configured ratio, or the one in force with sample_ratio: auto.", []string{"app"}, nil)
	descLastCheckpoint = prometheus.NewDesc(ns+"_last_checkpoint_timestamp_seconds",
		"When the served counters were last saved.", nil, nil)
)

// selfMetrics are ordinary process metrics: they reset on restart. The API
// client's own (api_calls_total, api_errors_total,
// trace_query_duration_seconds) are timapi.Metrics.
type selfMetrics struct {
	queries            *prometheus.CounterVec
	unknownApp         *prometheus.CounterVec
	checkpointDuration prometheus.Histogram
	checkpointFailures prometheus.Counter
	restoreSkipped     prometheus.Counter
}

func newSelfMetrics() *selfMetrics {
	return &selfMetrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "trace_queries_total",
			Help: "Trace queries by outcome after retries: ok, error (kept, retried later), config_error (app paused), dropped (the API rejected the PushID)."},
			[]string{"app", "result"}),
		unknownApp: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "pushids_unknown_app_total",
			Help: "PushIDs received for an app that is not configured; ignored."}, []string{"source"}),
		checkpointDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "checkpoint_duration_seconds",
			Help: "Time to save a checkpoint of the state.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8)}),
		checkpointFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "checkpoint_failures_total",
			Help: "Checkpoints that could not be saved (retried with the next one)."}),
		restoreSkipped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "state_records_skipped_total",
			Help: "Malformed records skipped when loading the state file."}),
	}
}

func (m *selfMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.queries, m.unknownApp, m.checkpointDuration, m.checkpointFailures, m.restoreSkipped}
}

// Describe implements prometheus.Collector. It describes the persisted
// families too, although Collect does not send them: registering another
// collector with one of their names then fails at once, instead of every
// scrape (a page with a family twice is rejected by Prometheus).
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range emptyFamilies {
		ch <- f.PromDesc()
	}
	ch <- descPending
	ch <- descUp
	ch <- descRateLimit
	ch <- descSampleRatio
	ch <- descLastCheckpoint
	for _, m := range c.self.collectors() {
		m.Describe(ch)
	}
}

// Collect implements prometheus.Collector for what is not persisted. The
// persisted series are served pre-rendered by Families.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.snap.Load()
	if !snap.at.IsZero() {
		ch <- prometheus.MustNewConstMetric(descLastCheckpoint, prometheus.GaugeValue, float64(snap.at.UnixNano())/1e9)
	}
	c.mu.Lock()
	for name, st := range c.apps {
		up := 0.0
		if st.up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(st.queue.len()), name)
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, name)
		ch <- prometheus.MustNewConstMetric(descRateLimit, prometheus.GaugeValue, st.cfg.RateLimit, name)
		ch <- prometheus.MustNewConstMetric(descSampleRatio, prometheus.GaugeValue, st.ratio(), name)
	}
	c.mu.Unlock()
	for _, m := range c.self.collectors() {
		m.Collect(ch)
	}
}

// Families implements exposition.Source: the persisted series as the last
// checkpoint saved them, rendered, sorted by name. exposition.Handler
// serves them next to the registry; exposition.Gatherer(c) gathers them.
func (c *Collector) Families() []*exposition.Family { return c.snap.Load().families }

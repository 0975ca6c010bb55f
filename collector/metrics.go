package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

const ns = "timpush_exporter"

// Descriptors of the persisted series, indexed by metricID. The push_*
// metrics describe Tencent's pushes and carry no exporter prefix; the
// exporter's own bookkeeping is prefixed timpush_exporter_.
var seriesDescs = map[metricID]*prometheus.Desc{
	mStage: prometheus.NewDesc("push_stage_total",
		"Sampled push stage outcomes reported by the trace API (success and failure), each counted once.",
		[]string{"app", "platform", "stage"}, nil),
	mFailures: prometheus.NewDesc("push_stage_failures_total",
		"Sampled push stage outcomes that failed, by vendor error code (capped per app; beyond the cap \"other\") and reason (a small shared vocabulary, see README).",
		[]string{"app", "platform", "stage", "error_code", "reason"}, nil),
	mLatency: prometheus.NewDesc("push_stage_latency_seconds",
		"Time from PushTime to the stage's EventTime, for reported outcomes (negative differences are not observed).",
		[]string{"app", "platform", "stage"}, nil),
	mInstances: prometheus.NewDesc("push_instances_total",
		"Sampled push deliveries to IM instances (devices/logins), each counted once.",
		[]string{"app", "platform"}, nil),
	mNotificationDisabled: prometheus.NewDesc("push_notification_disabled_total",
		"Sampled push instances whose notification bar was reported disabled (NotificationStatus 0).",
		[]string{"app", "platform"}, nil),
	mUnreported: prometheus.NewDesc("push_stage_unreported_total",
		"Stages still unreported after a successful previous stage when a push was finished (after its last requery).",
		[]string{"app", "platform", "stage"}, nil),
	mReceived: prometheus.NewDesc(ns+"_pushids_received_total",
		"PushIDs received from sources, duplicates included.",
		[]string{"app", "source"}, nil),
	mSampled: prometheus.NewDesc(ns+"_pushids_sampled_total",
		"PushIDs selected for tracing by sampling (first sightings only).",
		[]string{"app"}, nil),
	mDropped: prometheus.NewDesc(ns+"_pushids_dropped_total",
		"Sampled PushIDs given up before they were finished, by reason.",
		[]string{"app", "reason"}, nil),
	mDuplicates: prometheus.NewDesc(ns+"_pushids_duplicate_total",
		"Sampled PushIDs received again while pending or within the 7-day dedup window; ignored.",
		[]string{"app"}, nil),
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

// selfMetrics are ordinary process metrics: they reset on restart.
type selfMetrics struct {
	queries            *prometheus.CounterVec
	apiErrors          *prometheus.CounterVec
	queryDuration      *prometheus.HistogramVec
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
		apiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "api_errors_total",
			Help: "Failed API attempts (retries included) by error code: Tencent's ErrorCode, http_<status>, network, timeout or decode."},
			[]string{"app", "error_code"}),
		queryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "trace_query_duration_seconds",
			Help: "Duration of API attempts (HTTP round trip), successful or not.", Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"app"}),
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
	return []prometheus.Collector{m.queries, m.apiErrors, m.queryDuration, m.unknownApp, m.checkpointDuration, m.checkpointFailures, m.restoreSkipped}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range seriesDescs {
		ch <- d
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

// Collect implements prometheus.Collector. Persisted series come from the
// last saved snapshot; no API call and no long lock on the scrape path.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.snap.Load()
	for k, v := range snap.counters {
		m := prometheus.MustNewConstMetric(seriesDescs[k.metric], prometheus.CounterValue, v, k.labelValues()...)
		if ex, ok := snap.exemplars[k]; ok && len(ex.pushID)+len("push_id") <= prometheus.ExemplarMaxRunes {
			if mex, err := prometheus.NewMetricWithExemplars(m, prometheus.Exemplar{
				Value: 1, Labels: prometheus.Labels{"push_id": ex.pushID}, Timestamp: ex.at,
			}); err == nil {
				m = mex
			}
		}
		ch <- m
	}
	for k, h := range snap.histograms {
		buckets := make(map[float64]uint64, len(latencyBuckets))
		for i, ub := range latencyBuckets {
			buckets[ub] = h.buckets[i]
		}
		ch <- prometheus.MustNewConstHistogram(seriesDescs[k.metric], h.count, h.sum, buckets, k.labelValues()...)
	}
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

// Observer returns the timapi.Observer that counts an app's API attempts.
func (c *Collector) Observer(app string) timapi.Observer {
	return &observer{app: app, m: c.self}
}

type observer struct {
	app string
	m   *selfMetrics
}

func (o *observer) ObserveAttempt(errorCode string, d time.Duration) {
	o.m.queryDuration.WithLabelValues(o.app).Observe(d.Seconds())
	if errorCode == "" {
		return
	}
	o.m.apiErrors.WithLabelValues(o.app, errorCode).Inc()
}

package ledger

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/exposition"
)

const ns = "timpush_exporter"

// savedDescs describe the persisted series, indexed by metricID. The push_*
// metrics describe Tencent's pushes and carry no exporter prefix; the
// exporter's own bookkeeping is prefixed timpush_exporter_. They are served
// pre-rendered from the last checkpoint (see Snapshot), not collected.
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
	mCallbackEvents: {Name: "push_callback_events_total",
		Help:   "Push result events of Tencent's push callback (Push.OfflinePush, Push.AllMemberPush), every push, each event counted once; push_stage is Tencent's PushStage number (its meaning is not documented).",
		Labels: []string{"app", "platform", "push_stage"}},
	mCallbackFailures: {Name: "push_callback_failures_total",
		Help:   "Push callback events with ErrCode other than 0, by error code (capped per app; beyond the cap \"other\") and reason.",
		Labels: []string{"app", "platform", "push_stage", "error_code", "reason"}},
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
	case mStage, mLatency, mUnreported, mCallbackEvents:
		return []string{k.app, k.platform, k.stage}
	case mFailures, mCallbackFailures:
		return []string{k.app, k.platform, k.stage, k.extra, k.reason}
	case mInstances, mNotificationDisabled:
		return []string{k.app, k.platform}
	case mReceived, mDropped:
		return []string{k.app, k.extra}
	default:
		return []string{k.app}
	}
}

// metrics are the ledger's process metrics: they reset on restart, as
// Prometheus expects of a process's counters.
type metrics struct {
	checkpointDuration prometheus.Histogram
	checkpointFailures prometheus.Counter
	restoreSkipped     prometheus.Counter
	unknownApp         *prometheus.CounterVec
	eventsIgnored      *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		checkpointDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "checkpoint_duration_seconds",
			Help: "Time to save a checkpoint of the state.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8)}),
		checkpointFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "checkpoint_failures_total",
			Help: "Checkpoints that could not be saved (retried with the next one)."}),
		restoreSkipped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "state_records_skipped_total",
			Help: "Malformed records skipped when loading the state file."}),
		unknownApp: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "pushids_unknown_app_total",
			Help: "PushIDs received for an app that is not configured; ignored."}, []string{"source"}),
		eventsIgnored: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "callback_events_ignored_total",
			Help: "Push callback events not counted: duplicate (a redelivery), too_old (older than the events remembered for deduplication), unknown_app."},
			[]string{"app", "reason"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.checkpointDuration, m.checkpointFailures, m.restoreSkipped, m.unknownApp, m.eventsIgnored}
}

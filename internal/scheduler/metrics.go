package scheduler

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

const ns = "timpush_exporter"

// metrics are process metrics: they reset on restart.
type metrics struct {
	queries  *prometheus.CounterVec
	outcomes *prometheus.CounterVec
	yielding *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "trace_queries_total",
			Help: "Trace queries by outcome after retries: ok, error (kept, retried later), config_error (app paused), unexpected_reply (a reply of an undocumented shape; kept, retried later), dropped (the API rejected the PushID)."},
			[]string{"app", "result"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "query_outcomes_total",
			Help: "New stage outcomes counted from trace queries, by purpose (first query or requery): what the budget bought."},
			[]string{"app", "purpose"}),
		yielding: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "queries_with_outcomes_total",
			Help: "Trace queries that counted at least one new stage outcome, by purpose."},
			[]string{"app", "purpose"}),
	}
}

// init makes an app's series exist from the start, at 0.
func (m *metrics) init(app string) {
	for _, p := range []timapi.Purpose{timapi.PurposeFirst, timapi.PurposeRequery} {
		m.outcomes.WithLabelValues(app, string(p))
		m.yielding.WithLabelValues(app, string(p))
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.queries, m.outcomes, m.yielding}
}

package timapi

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Purpose says why a call is made: the `purpose` label of api_calls_total.
// It travels in the context (WithPurpose), so that one client serves every
// caller of an app.
type Purpose string

// The purposes. Statistics and Loss calls are PurposeStatistics whatever the
// context says; a context without a purpose is PurposeOther.
const (
	PurposeFirst      Purpose = "first"      // the first trace query of a PushID
	PurposeRequery    Purpose = "requery"    // a later one, for stages reported late
	PurposeTracePage  Purpose = "trace_page" // a lookup on the /trace page
	PurposeStatistics Purpose = "statistics" // normal_push_statistics and normal_push_loss
	PurposeOther      Purpose = "other"
)

var purposes = []Purpose{PurposeFirst, PurposeRequery, PurposeTracePage, PurposeStatistics, PurposeOther}

type purposeKey struct{}

// WithPurpose returns ctx carrying the purpose of the calls made with it.
func WithPurpose(ctx context.Context, p Purpose) context.Context {
	return context.WithValue(ctx, purposeKey{}, p)
}

// PurposeOf is the purpose ctx carries, PurposeOther when none.
func PurposeOf(ctx context.Context) Purpose {
	if p, ok := ctx.Value(purposeKey{}).(Purpose); ok && p != "" {
		return p
	}
	return PurposeOther
}

// Metrics counts the HTTP attempts of every client of the process, by app.
// One Metrics is shared by all of them (Options.Metrics); its series are
// ordinary process counters that restart at zero with the process.
type Metrics struct {
	calls    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics creates the API metrics and registers them with reg (when not
// nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "timpush_exporter_api_calls_total",
			Help: "API attempts (retries included) that took a slot of the app's rate budget, by purpose: first, requery, trace_page, statistics or other."},
			[]string{"app", "purpose"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "timpush_exporter_api_errors_total",
			Help: "Failed API attempts (retries included) by error code: Tencent's ErrorCode, http_<status>, network, timeout or decode."},
			[]string{"app", "error_code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "timpush_exporter_trace_query_duration_seconds",
			Help: "Duration of API attempts (HTTP round trip), successful or not.", Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"app"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.errors, m.duration)
	}
	return m
}

// initApp creates app's purpose series at zero, so that rates over them
// exist before the first call of each kind.
func (m *Metrics) initApp(app string) {
	if m == nil {
		return
	}
	for _, p := range purposes {
		m.calls.WithLabelValues(app, string(p))
	}
}

// called counts an attempt that took a slot of the budget.
func (m *Metrics) called(app string, p Purpose) {
	if m != nil {
		m.calls.WithLabelValues(app, string(p)).Inc()
	}
}

// observe records an attempt's outcome: errorCode is "" on success, else
// the Error's Label.
func (m *Metrics) observe(app, errorCode string, d time.Duration) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(app).Observe(d.Seconds())
	if errorCode != "" {
		m.errors.WithLabelValues(app, errorCode).Inc()
	}
}

package main

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/timpush/timpush_exporter/internal/exposition"
)

// routes serves the metrics listener: metrics, landing page, health,
// readiness, reload and the trace page. The metrics page is reg's metrics
// plus the collector's persisted series (saved), which are kept rendered:
// gathering tens of thousands of series on every scrape took too long.
// Exemplars (push_id on failures) are served in OpenMetrics.
func routes(telemetryPath string, reg *prometheus.Registry, saved exposition.Source, cfg configSource, ready *atomic.Bool, demoMode bool, trace http.Handler, logger log.Logger) http.Handler {
	mux := http.NewServeMux()
	if telemetryPath != "/trace" {
		mux.Handle("/trace", trace)
	}
	mux.Handle(telemetryPath, exposition.Handler(reg, saved, exposition.HandlerOpts{
		ErrorLog: promhttpLogger{logger},
		Registry: reg,
	}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "Not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "This endpoint requires a POST request.", http.StatusMethodNotAllowed)
			return
		}
		if err := cfg.Reload(); err != nil {
			level.Error(logger).Log("msg", "reload failed; keeping the running configuration", "err", err)
			http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded")
	})
	if telemetryPath != "/" {
		description := "Prometheus exporter for Tencent Cloud Chat push delivery: per-vendor stage outcomes from normal_push_trace."
		extra := ""
		if demoMode {
			description = "DEMO MODE: every figure here is synthetic, produced by a built-in simulator of the Tencent API. " + description
			extra = `<p style="color:#b00;font-weight:bold">Demo mode: synthetic data from a built-in API simulator. No Tencent account is used.</p>`
		}
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        name,
			Profiling:   "false",
			Description: description,
			Version:     version.Info(),
			ExtraHTML:   extra,
			// Rendered as a GET form (no method attribute) to /trace.
			Form: web.LandingForm{Action: "trace", Inputs: []web.LandingFormInput{
				{Label: "App", Type: "text", Name: "app", Placeholder: "optional with one app"},
				{Label: "PushID", Type: "text", Name: "push_id", Placeholder: "MsgID of the message"},
			}},
			Links: []web.LandingLinks{
				{Address: telemetryPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
				{Address: "/trace", Text: "Push trace", Description: "the trace of one push, queried now"},
			},
		})
		if err != nil {
			level.Error(logger).Log("msg", "landing page", "err", err)
		} else {
			mux.Handle("/", landing)
		}
	}
	return mux
}

type promhttpLogger struct{ logger log.Logger }

func (l promhttpLogger) Println(v ...any) { level.Error(l.logger).Log("msg", fmt.Sprint(v...)) }

package server

import (
	"fmt"
	"net/http"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/internal/exposition"
	"github.com/timpush/timpush_exporter/internal/tracepage"
)

// Name is the exporter's name, as the landing page and build_info say it.
const Name = "timpush_exporter"

// routes serves the metrics listener: metrics, landing page, health,
// readiness, reload and the trace page. The metrics page is the registry's
// metrics plus the ledger's saved series, which are kept rendered:
// gathering tens of thousands of series on every scrape took too long.
// Exemplars (push_id on failures) are served in OpenMetrics.
func (s *Server) routes(coll *collector.Collector) http.Handler {
	path := s.o.TelemetryPath
	mux := http.NewServeMux()
	if path != "/trace" {
		mux.Handle("/trace", tracepage.New(tracepage.Options{
			Lookup: s.apps.pageTracer, Apps: s.apps.appNames, Describe: s.apps.describe,
			Logger: log.With(s.logger, "component", "tracepage"),
		}))
	}
	mux.Handle(path, exposition.Handler(s.o.Registry, coll, exposition.HandlerOpts{
		ErrorLog: promhttpLogger{s.logger},
		Registry: s.o.Registry,
	}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", s.health.serveReady)
	mux.HandleFunc("/-/reload", s.serveReload)
	if path != "/" {
		if landing, err := s.landingPage(); err != nil {
			level.Error(s.logger).Log("msg", "landing page", "err", err)
		} else {
			mux.Handle("/", landing)
		}
	}
	return mux
}

// serveReload is POST /-/reload: the caller gets the error back. The
// error is logged once, where the reload ran (config.Reloader).
func (s *Server) serveReload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		http.Error(w, "This endpoint requires a POST request.", http.StatusMethodNotAllowed)
		return
	}
	reload := s.o.Reload
	if reload == nil {
		http.Error(w, "failed to reload config: demo mode has no configuration file to reload", http.StatusInternalServerError)
		return
	}
	if err := reload(); err != nil {
		http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "Reloaded")
}

func (s *Server) landingPage() (http.Handler, error) {
	description := "Prometheus exporter for Tencent Cloud Chat push delivery: per-vendor stage outcomes from normal_push_trace and Tencent's push callbacks."
	extra := ""
	if s.o.Demo != nil {
		description = "DEMO MODE: every figure here is synthetic, produced by a built-in simulator of the Tencent API. " + description
		extra = `<p style="color:#b00;font-weight:bold">Demo mode: synthetic data from a built-in API simulator. No Tencent account is used.</p>`
	}
	return web.NewLandingPage(web.LandingConfig{
		Name:        Name,
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
			{Address: s.o.TelemetryPath, Text: "Metrics"},
			{Address: "/-/healthy", Text: "Health"},
			{Address: "/-/ready", Text: "Readiness", Description: "whether every part runs and the last checkpoint was saved"},
			{Address: "/trace", Text: "Push trace", Description: "the trace of one push, queried now"},
		},
	})
}

type promhttpLogger struct{ logger log.Logger }

func (l promhttpLogger) Println(v ...any) { level.Error(l.logger).Log("msg", fmt.Sprint(v...)) }

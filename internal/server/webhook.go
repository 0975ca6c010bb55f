package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/listen"
	"github.com/timpush/timpush_exporter/internal/source"
)

// webhook is the listener for Tencent's callbacks and the JSON endpoint.
// Its apps and tokens are read from the running configuration on every
// request; its address and TLS settings are fixed when it starts.
type webhook struct {
	s       *Server
	cfg     config.Webhook // as started
	srv     *http.Server
	flags   *web.FlagConfig
	ln      *listen.Listeners
	stopped chan struct{}
}

func (s *Server) newWebhook(wc *config.Webhook) (*webhook, error) {
	wh, err := source.NewWebhook(source.WebhookOptions{
		Apps: func() []source.WebhookApp {
			cfg := s.current()
			out := make([]source.WebhookApp, 0, len(cfg.Apps))
			for _, a := range cfg.Apps {
				out = append(out, source.WebhookApp{Name: a.Name, SDKAppID: a.SDKAppID})
			}
			return out
		},
		CallbackToken: func() string { return string(s.webhookConfig().TencentCallbackToken) },
		BearerToken:   func() string { return string(s.webhookConfig().BearerToken) },
		MaxBodyBytes:  func() int64 { return s.webhookConfig().MaxBodyBytes },
		Clock:         s.clock,
		Logger:        log.With(s.logger, "component", "webhook"),
		Registerer:    s.o.Registry,
	}, s.ledger)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	webConfig := wc.WebConfigFile
	if webConfig != "" && !filepath.IsAbs(webConfig) {
		webConfig, _ = filepath.Abs(webConfig)
	}
	systemd := false
	return &webhook{
		s:   s,
		cfg: *wc,
		srv: &http.Server{
			Handler:           wh.Handler(),
			ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
			WriteTimeout: 20 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		},
		flags:   &web.FlagConfig{WebListenAddresses: &[]string{wc.ListenAddress}, WebSystemdSocket: &systemd, WebConfigFile: &webConfig},
		stopped: make(chan struct{}),
	}, nil
}

// listen binds the listener, with its connection cap: a failure is a
// failure to start.
func (w *webhook) listen() error {
	ln, err := listen.Open(w.flags, w.cfg.MaxConnections, w.s.slogger("webhook"))
	if err != nil {
		return fmt.Errorf("webhook listener: %w", err)
	}
	w.ln = ln
	return nil
}

// url is where the webhook listens for Tencent's callbacks.
func (w *webhook) url() string {
	return "http://" + w.ln.Addrs()[0].String() + "/webhook/tencent"
}

// serve serves until shutdown. A failure after the start is logged and
// makes the exporter not ready; the rest goes on.
func (w *webhook) serve() {
	defer close(w.stopped)
	err := w.ln.Serve(w.srv)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		level.Error(w.s.logger).Log("msg", "webhook listener failed", "address", w.cfg.ListenAddress, "err", err)
		w.s.health.fail("webhook listener", err)
	}
}

// shutdown lets the replies in flight finish (they wait for their PushIDs
// to be saved) within ctx.
func (w *webhook) shutdown(ctx context.Context) {
	if err := w.srv.Shutdown(ctx); err != nil {
		level.Warn(w.s.logger).Log("msg", "webhook replies still in flight at shutdown", "err", err)
	}
	<-w.stopped
}

func (s *Server) webhookConfig() config.Webhook {
	if w := s.current().Sources.Webhook; w != nil {
		return *w
	}
	return config.DefaultWebhook
}

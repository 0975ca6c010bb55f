package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/logging"
	"github.com/timpush/timpush_exporter/internal/source"
)

// sources runs the file tailers and the webhook listener. File sources
// follow reloads (changed ones restart from their saved positions); the
// webhook's apps and tokens are read per request, but its listen address
// and TLS settings are fixed at start.
type sources struct {
	sink        source.Sink
	logger      log.Logger
	fileMetrics *source.FileMetrics
	reg         prometheus.Registerer

	mu      sync.Mutex
	cfg     *config.Config
	ctx     context.Context
	files   map[string]*tailer // by a string of the file source's config
	webhook *http.Server
	whDone  chan struct{}
}

type tailer struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func newSources(sink source.Sink, reg prometheus.Registerer, logger log.Logger) *sources {
	return &sources{sink: sink, reg: reg, logger: logger, fileMetrics: source.NewFileMetrics(reg), files: map[string]*tailer{}}
}

// start starts every configured source.
func (s *sources) start(ctx context.Context, cfg *config.Config) error {
	s.mu.Lock()
	s.ctx, s.cfg = ctx, cfg
	s.mu.Unlock()
	s.apply(cfg)
	if cfg.Sources.Webhook != nil {
		return s.startWebhook(cfg.Sources.Webhook)
	}
	return nil
}

// apply is called on reload: start new file sources, stop removed ones.
func (s *sources) apply(cfg *config.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		return
	}
	if old, nw := s.cfg.Sources.Webhook, cfg.Sources.Webhook; (old == nil) != (nw == nil) ||
		(old != nil && (old.ListenAddress != nw.ListenAddress || old.WebConfigFile != nw.WebConfigFile)) {
		level.Warn(s.logger).Log("msg", "the webhook listener's address and TLS settings change only on restart")
	}
	s.cfg = cfg
	want := map[string]config.FileSource{}
	for _, fs := range cfg.Sources.Files {
		want[fmt.Sprintf("%+v", fs)] = fs
	}
	for key, t := range s.files {
		if _, ok := want[key]; !ok {
			t.cancel()
			<-t.done
			delete(s.files, key)
		}
	}
	for key, fs := range want {
		if _, ok := s.files[key]; ok {
			continue
		}
		f, err := source.NewFile(source.FileOptions{
			Pattern: fs.Path, App: fs.App, Format: fs.Format, Regex: fs.Regexp(), JSONField: fs.JSONField,
			StartAtEnd: fs.Start != config.StartBeginning, MaxLineBytes: fs.MaxLineBytes,
			Clock: clock.Real{}, Logger: log.With(s.logger, "source", fs.Path), Metrics: s.fileMetrics,
		}, s.sink)
		if err != nil {
			level.Error(s.logger).Log("msg", "cannot start file source", "source", fs.Path, "err", err)
			continue
		}
		ctx, cancel := context.WithCancel(s.ctx)
		t := &tailer{cancel: cancel, done: make(chan struct{})}
		s.files[key] = t
		go func() {
			defer close(t.done)
			if err := f.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				level.Error(s.logger).Log("msg", "file source stopped", "source", fs.Path, "err", err)
			}
		}()
	}
}

func (s *sources) startWebhook(wc *config.Webhook) error {
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
		Clock:         clock.Real{},
		Logger:        log.With(s.logger, "component", "webhook"),
		Registerer:    s.reg,
	}, s.sink)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           wh.Handler(),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 20 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
	}
	systemd := false
	webConfig := wc.WebConfigFile
	if webConfig != "" && !filepath.IsAbs(webConfig) {
		webConfig, _ = filepath.Abs(webConfig)
	}
	flags := &web.FlagConfig{WebListenAddresses: &[]string{wc.ListenAddress}, WebSystemdSocket: &systemd, WebConfigFile: &webConfig}
	done := make(chan struct{})
	s.mu.Lock()
	s.webhook, s.whDone = srv, done
	s.mu.Unlock()
	slogger := logging.Slog(log.With(s.logger, "listener", "webhook"))
	go func() {
		defer close(done)
		if err := web.ListenAndServe(srv, flags, slogger); err != nil && !errors.Is(err, http.ErrServerClosed) {
			level.Error(s.logger).Log("msg", "webhook listener failed", "address", wc.ListenAddress, "err", err)
		}
	}()
	return nil
}

func (s *sources) current() *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

func (s *sources) webhookConfig() config.Webhook {
	if w := s.current().Sources.Webhook; w != nil {
		return *w
	}
	return config.DefaultWebhook
}

// stop closes the webhook listener (letting replies in flight finish) and
// stops every tailer; tailers offer their final positions before returning.
func (s *sources) stop(ctx context.Context) {
	s.mu.Lock()
	srv, files := s.webhook, s.files
	s.files = map[string]*tailer{}
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown(ctx)
	}
	for _, t := range files {
		t.cancel()
	}
	for _, t := range files {
		select {
		case <-t.done:
		case <-ctx.Done():
		}
	}
}

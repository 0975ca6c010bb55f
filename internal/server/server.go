// Package server is timpush_exporter's lifecycle. New builds every part
// from a configuration — the state file, the ledger and the scheduler, the
// apps' clients and pacers, the file tailers, the webhook listener, the
// statistics pollers and the HTTP routes — and fails, naming the part, if
// one cannot be built. Run binds the listeners and runs the parts as one
// group until its context ends or a part fails to start, then stops them in
// order: sources first (webhook replies in flight finish, tailers offer
// their last cursors), then the scheduler, which saves a final checkpoint.
// Reload builds a new configuration's parts whole before any of it applies,
// so a refused reload changes nothing.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/demo"
	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/listen"
	"github.com/timpush/timpush_exporter/internal/pacer"
	"github.com/timpush/timpush_exporter/internal/scheduler"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/statistics"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Options configure a Server.
type Options struct {
	Logger log.Logger
	// Slog is exporter-toolkit's logger for a part (listener "metrics" or
	// "webhook"); nil: none.
	Slog               func(part string) *slog.Logger
	Clock              clock.Clock          // nil: clock.Real
	Registry           *prometheus.Registry // required: every metric is registered here
	StoragePath        string
	CheckpointInterval time.Duration
	TelemetryPath      string          // default /metrics
	Web                *web.FlagConfig // the metrics listener
	MaxConnections     int             // on the metrics listener; default 256
	// Demo, if set, feeds the demo's synthetic pushes and shows the demo
	// banner; its configuration is the one given to New.
	Demo *demo.Demo
	// ShutdownBudget bounds the orderly stop (default 4 s).
	ShutdownBudget time.Duration
	// Reload, if set, is what POST /-/reload calls (the configuration file
	// is read by the caller).
	Reload func() error
}

// Server is a built exporter.
type Server struct {
	o           Options
	clock       clock.Clock
	logger      log.Logger
	store       *store.Store
	ledger      *ledger.Ledger
	scheduler   *scheduler.Scheduler
	apps        apps
	files       files
	fileMetrics *source.FileMetrics
	apiMetrics  *timapi.Metrics // every client's attempts
	webhook     *webhook        // nil: none configured
	pollers     pollers
	health      *health
	handler     http.Handler

	reloadMu sync.Mutex // serialises Reload
	cfgMu    sync.Mutex
	cfg      *config.Config
}

// New builds the exporter for cfg. It opens (and locks) the state file and
// loads it; Close releases it when Run is not called.
func New(cfg *config.Config, o Options) (*Server, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.Slog == nil {
		o.Slog = func(string) *slog.Logger { return slog.New(slog.DiscardHandler) }
	}
	if o.TelemetryPath == "" {
		o.TelemetryPath = "/metrics"
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 256
	}
	if o.ShutdownBudget <= 0 {
		o.ShutdownBudget = 4 * time.Second
	}
	s := &Server{o: o, clock: o.Clock, logger: o.Logger, cfg: cfg, health: newHealth()}
	s.apps.pacers = map[string]*pacer.Pacer{}
	s.files = files{s: s, running: map[fileKey]*tailer{}}
	s.pollers = pollers{s: s, coll: statistics.NewCollector(o.Registry)}

	o.Registry.MustRegister(versioncollector.NewCollector(Name), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, w := range cfg.Warnings {
		level.Warn(s.logger).Log("msg", "configuration", "warning", w)
	}
	if o.Demo != nil {
		o.Registry.MustRegister(o.Demo)
		level.Warn(s.logger).Log("msg", "DEMO MODE: all data is synthetic, produced by a built-in simulator of the Tencent API",
			"app", o.Demo.Config.Apps[0].Name, "storage", o.StoragePath)
	}
	st, err := openStore(o.StoragePath, o.Registry, s.logger)
	if err != nil {
		return nil, err
	}
	s.store = st
	if err := s.build(cfg); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

// build makes every part of the first configuration.
func (s *Server) build(cfg *config.Config) error {
	s.ledger = ledger.New(ledger.Options{Clock: s.clock, Logger: log.With(s.logger, "component", "ledger"), Store: s.store})
	s.scheduler = scheduler.New(s.ledger, scheduler.Options{
		Clock: s.clock, Logger: log.With(s.logger, "component", "scheduler"),
		CheckpointInterval: s.o.CheckpointInterval, OnCheckpoint: s.checkpointed,
	})
	coll := collector.New(s.ledger, s.scheduler)
	if err := s.o.Registry.Register(coll); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	s.fileMetrics = source.NewFileMetrics(s.o.Registry)
	s.apiMetrics = timapi.NewMetrics(s.o.Registry)
	set, err := s.buildApps(cfg)
	if err != nil {
		return err
	}
	s.applyApps(cfg, set)
	if err := s.ledger.Restore(); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	fs, err := s.files.build(cfg)
	if err != nil {
		return err
	}
	s.files.apply(fs)
	s.pollers.apply(cfg, set.clients)
	if wc := cfg.Sources.Webhook; wc != nil {
		if s.webhook, err = s.newWebhook(wc); err != nil {
			return err
		}
	}
	s.handler = s.routes(coll)
	return nil
}

// checkpointed follows the checkpoint loop: a failed checkpoint makes the
// exporter not ready until one succeeds again.
func (s *Server) checkpointed(err error) {
	if err != nil {
		s.health.fail("checkpoint", err)
		return
	}
	s.health.ok("checkpoint")
}

func (s *Server) current() *config.Config {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	return s.cfg
}

// Handler serves the metrics listener's routes.
func (s *Server) Handler() http.Handler { return s.handler }

// Close releases the state file of a server that was not run.
func (s *Server) Close() error { return s.store.Close() }

// Run binds the listeners and runs every part until ctx ends or a part
// fails, then stops them in order. It returns nil after an orderly stop on
// ctx, else the error of the part that failed. It closes the state file.
func (s *Server) Run(ctx context.Context) error {
	defer s.store.Close()
	metrics, err := listen.Open(s.o.Web, s.o.MaxConnections, s.o.Slog("metrics"))
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	if s.webhook != nil {
		if err := s.webhook.listen(); err != nil {
			metrics.Close()
			return err
		}
	}

	var g run.Group
	ctx, cancel := context.WithCancel(ctx)
	g.Add(func() error { <-ctx.Done(); return nil }, func(error) { cancel() })

	// Sources: the webhook, the tailers, the demo stream. sourcesDone is
	// closed once they have all stopped: only then does the scheduler stop
	// and save its final checkpoint, which so includes their last offers.
	var sources sync.WaitGroup
	sourcesDone := make(chan struct{})
	srcCtx, stopSources := context.WithCancel(context.Background())
	if s.webhook != nil {
		sources.Add(1)
		g.Add(func() error {
			defer sources.Done()
			go s.webhook.serve()
			<-srcCtx.Done()
			sctx, c := context.WithTimeout(context.Background(), s.o.ShutdownBudget)
			defer c()
			s.webhook.shutdown(sctx)
			return nil
		}, func(error) { stopSources() })
	}
	sources.Add(1)
	g.Add(func() error { defer sources.Done(); s.files.run(srcCtx); return nil }, func(error) { stopSources() })
	if s.o.Demo != nil {
		sources.Add(1)
		callbacks := ""
		if s.webhook != nil { // the demo posts Tencent's push callbacks to its own webhook
			callbacks = s.webhook.url()
		}
		g.Add(func() error { defer sources.Done(); s.o.Demo.Stream(srcCtx, s.ledger, callbacks); return nil }, func(error) { stopSources() })
	}
	go func() { sources.Wait(); close(sourcesDone) }()

	schedCtx, stopSched := context.WithCancel(context.Background())
	g.Add(func() error { return s.scheduler.Run(schedCtx) }, func(error) {
		go func() {
			select {
			case <-sourcesDone:
			case <-time.After(s.o.ShutdownBudget):
				level.Warn(s.logger).Log("msg", "sources did not stop in time; saving the final checkpoint anyway")
			}
			stopSched()
		}()
	})

	pollCtx, stopPollers := context.WithCancel(context.Background())
	g.Add(func() error { s.pollers.run(pollCtx); return nil }, func(error) { stopPollers() })

	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
	}
	g.Add(func() error {
		err := metrics.Serve(srv)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("metrics listener: %w", err)
	}, func(error) {
		// After the scheduler: a scrape during the stop still answers.
		go func() {
			<-sourcesDone
			sctx, c := context.WithTimeout(context.Background(), s.o.ShutdownBudget)
			defer c()
			srv.Shutdown(sctx)
		}()
	})

	s.health.setStarted(true)
	done := make(chan error, 1)
	go func() { done <- g.Run() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		level.Info(s.logger).Log("msg", "shutting down")
		select {
		case err = <-done:
		case <-time.After(s.o.ShutdownBudget + time.Second):
			return errors.New("did not stop in time; the last saved state is used on restart")
		}
	}
	s.health.setStarted(false)
	return err
}

// Reload builds every part of cfg whole, then applies it. If any part
// cannot be built nothing changes, and the error says which part.
func (s *Server) Reload(cfg *config.Config) error {
	if s.o.Demo != nil {
		return errors.New("demo mode has no configuration file to reload")
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	set, err := s.buildApps(cfg)
	if err != nil {
		return err
	}
	fs, err := s.files.build(cfg)
	if err != nil {
		return err
	}
	if old, nw := s.current().Sources.Webhook, cfg.Sources.Webhook; (old == nil) != (nw == nil) ||
		(old != nil && (old.ListenAddress != nw.ListenAddress || old.WebConfigFile != nw.WebConfigFile || old.MaxConnections != nw.MaxConnections)) {
		level.Warn(s.logger).Log("msg", "the webhook listener's address, TLS settings and max_connections change only on restart")
	}
	// Everything is built: apply.
	s.applyApps(cfg, set)
	s.pollers.apply(cfg, set.clients)
	s.files.apply(fs)
	s.cfgMu.Lock()
	s.cfg = cfg
	s.cfgMu.Unlock()
	return nil
}

func (s *Server) slogger(part string) *slog.Logger { return s.o.Slog(part) }

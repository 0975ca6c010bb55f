// Command timpush_exporter traces Tencent Cloud Chat offline pushes through
// the normal_push_trace API and exports per-vendor stage outcomes to
// Prometheus. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/buildinfo"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/demo"
	"github.com/timpush/timpush_exporter/internal/logging"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/tracepage"
)

const name = "timpush_exporter"

// shutdownBudget bounds a graceful stop: SIGTERM to exit in under 5 s.
const shutdownBudget = 4 * time.Second

func main() {
	buildinfo.Fill() // before --version and the build_info metric read it
	os.Exit(run(os.Args[1:]))
}

type flags struct {
	configFile, telemetryPath, storagePath, logLevel, logFormat *string
	configCheck, demo                                           *bool
	checkpointInterval                                          *time.Duration
	web                                                         *web.FlagConfig
}

func parseFlags(args []string) (*flags, error) {
	app := kingpin.New(name, "Prometheus exporter for Tencent Cloud Chat push delivery (normal_push_trace).")
	// Declared group by group (config, storage, web, log), as kingpin
	// prints them in this order in --help.
	f := &flags{
		configFile:         app.Flag("config.file", "Configuration file.").Default(name + ".yml").String(),
		configCheck:        app.Flag("config.check", "Validate the configuration file and exit (0 valid, 1 invalid).").Bool(),
		demo:               app.Flag("demo", "Run against a built-in simulator of the Tencent API with synthetic pushes; needs no config or account.").Bool(),
		storagePath:        app.Flag("storage.path", "Directory of the state file (positions, pending PushIDs, counters).").Default("data/").String(),
		checkpointInterval: app.Flag("storage.checkpoint-interval", "How often state is saved (and served counters advance).").Default("1s").Duration(),
		telemetryPath:      app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String(),
	}
	f.web = kingpinflag.AddFlags(app, ":9846")
	f.logLevel = app.Flag("log.level", "Only log messages with this severity or above: debug, info, warn, error.").Default("info").Enum("debug", "info", "warn", "error")
	f.logFormat = app.Flag("log.format", "Log format: logfmt or json.").Default("logfmt").Enum("logfmt", "json")
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	_, err := app.Parse(args)
	return f, err
}

func run(args []string) int {
	f, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	logger, err := logging.New(os.Stderr, *f.logLevel, *f.logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if *f.configCheck {
		return checkConfig(*f.configFile, logger)
	}
	level.Info(logger).Log("msg", "starting "+name, "version", version.Info(), "build_context", version.BuildContext())

	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector(name), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var (
		reloader configSource
		dm       *demo.Demo
	)
	if *f.demo {
		dm, err = demo.Start(clock.Real{})
		if err != nil {
			level.Error(logger).Log("msg", "cannot start demo mode", "err", err)
			return 1
		}
		defer dm.Close()
		reg.MustRegister(dm)
		reloader = &staticConfig{cfg: dm.Config}
		level.Warn(logger).Log("msg", "DEMO MODE: all data is synthetic, produced by a built-in simulator of the Tencent API", "app", demo.AppName)
	} else {
		reloader, err = config.NewReloader(*f.configFile, reg, log.With(logger, "component", "config"))
		if err != nil {
			level.Error(logger).Log("msg", "invalid configuration", "file", *f.configFile, "err", err)
			return 1
		}
	}
	for _, w := range reloader.Current().Warnings {
		level.Warn(logger).Log("msg", "configuration", "warning", w)
	}

	st, err := openStore(*f.storagePath, reg, logger)
	if err != nil {
		level.Error(logger).Log("msg", "cannot open the state file", "path", *f.storagePath, "err", err)
		return 1
	}
	defer st.Close()

	coll := collector.New(collector.Options{
		Clock: clock.Real{}, Logger: log.With(logger, "component", "collector"),
		Store: st, CheckpointInterval: *f.checkpointInterval,
	}, reg)
	apps := newAppBuilder(coll, logger)
	apps.stats = newStatPollers(reg, log.With(logger, "component", "statistics"))
	defer apps.stats.stop()
	if err := apps.apply(reloader.Current()); err != nil {
		level.Error(logger).Log("msg", "invalid configuration", "err", err)
		return 1
	}
	if err := coll.Restore(); err != nil {
		level.Error(logger).Log("msg", "cannot load the state file", "err", err)
		return 1
	}
	srcs := newSources(coll, reg, logger)
	reloader.OnReload(func(cfg *config.Config) error {
		if err := apps.apply(cfg); err != nil {
			return err
		}
		srcs.apply(cfg)
		return nil
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var ready atomic.Bool

	collDone := make(chan error, 1)
	collCtx, stopColl := context.WithCancel(context.Background())
	go func() { collDone <- coll.Run(collCtx) }()
	if err := srcs.start(ctx, reloader.Current()); err != nil {
		level.Error(logger).Log("msg", "cannot start the webhook listener", "err", err)
		stopColl()
		<-collDone
		return 1
	}
	var streams sync.WaitGroup
	if dm != nil {
		streams.Add(1)
		go func() { defer streams.Done(); dm.Stream(ctx, coll) }()
	}

	slogger := logging.Slog(logger)
	srv := &http.Server{
		Handler: routes(*f.telemetryPath, reg, coll, reloader, &ready, dm != nil, tracepage.New(tracepage.Options{
			Lookup: apps.pageTracer, Apps: apps.appNames, Describe: apps.describe,
			Logger: log.With(logger, "component", "tracepage"),
		}), logger),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
	}
	srvErr := make(chan error, 1)
	go func() { srvErr <- web.ListenAndServe(srv, f.web, slogger) }()
	ready.Store(true)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	exit := 0
loop:
	for {
		select {
		case <-ctx.Done():
			level.Info(logger).Log("msg", "shutting down")
			break loop
		case <-hup:
			if err := reloader.Reload(); err != nil {
				level.Error(logger).Log("msg", "reload failed; keeping the running configuration", "err", err)
			}
		case err := <-srvErr:
			if !errors.Is(err, http.ErrServerClosed) {
				level.Error(logger).Log("msg", "metrics listener failed", "err", err)
				exit = 1
			}
			break loop
		case err := <-collDone:
			level.Error(logger).Log("msg", "collector stopped", "err", err)
			stopColl()
			return 1
		}
	}
	stop()
	return shutdown(srv, srcs, &streams, stopColl, collDone, logger, exit)
}

// shutdown stops taking input, lets the collector save its final
// checkpoint, and closes the listeners, all within shutdownBudget.
func shutdown(srv *http.Server, srcs *sources, streams *sync.WaitGroup, stopColl context.CancelFunc,
	collDone <-chan error, logger log.Logger, exit int) int {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	srcs.stop(ctx) // webhook replies in flight finish; tailers offer their final cursors
	streams.Wait()
	stopColl()
	select {
	case err := <-collDone:
		if err != nil {
			level.Error(logger).Log("msg", "final checkpoint failed", "err", err)
			exit = 1
		}
	case <-ctx.Done():
		level.Error(logger).Log("msg", "final checkpoint did not finish in time; the last saved state is used on restart")
		exit = 1
	}
	srv.Shutdown(ctx)
	level.Info(logger).Log("msg", "stopped")
	return exit
}

func checkConfig(path string, logger log.Logger) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: invalid: %v\n", path, err)
		return 1
	}
	for _, w := range cfg.Warnings {
		level.Warn(logger).Log("msg", "configuration", "warning", w)
	}
	fmt.Printf("%s: OK (%d apps, %d file sources, webhook %v)\n", path, len(cfg.Apps), len(cfg.Sources.Files), cfg.Sources.Webhook != nil)
	return 0
}

func openStore(dir string, reg prometheus.Registerer, logger log.Logger) (*store.Store, error) {
	movedAside := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: name + "_state_file_moved_aside",
		Help: "1 when the state file was unreadable at start-up and was moved aside (counters restarted from zero).",
	})
	reg.MustRegister(movedAside)
	st, opened, err := store.Open(dir, store.Options{LockTimeout: 3 * time.Second})
	if err != nil {
		return nil, err
	}
	if opened.MovedAside != "" {
		movedAside.Set(1)
		level.Error(logger).Log("msg", "THE STATE FILE WAS CORRUPT: moved aside, starting from empty state (counters restart at zero)",
			"moved_to", opened.MovedAside, "err", opened.Cause)
	}
	return st, nil
}

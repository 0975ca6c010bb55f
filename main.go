// Command timpush_exporter traces Tencent Cloud Chat offline pushes through
// the normal_push_trace API, counts Tencent's push callbacks, and exports
// per-vendor stage outcomes to Prometheus. See README.md. This file holds
// the flags, the logger and the signals; internal/server is the rest.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
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
	sloggokit "github.com/tjhop/slog-gokit"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/demo"
	"github.com/timpush/timpush_exporter/internal/server"
)

// shutdownBudget bounds a graceful stop: SIGTERM to exit in under 5 s.
const shutdownBudget = 4 * time.Second

func main() { os.Exit(run(os.Args[1:])) }

type flags struct {
	configFile, telemetryPath, storagePath, logLevel, logFormat *string
	configCheck, demo, storageSet                               *bool
	checkpointInterval                                          *time.Duration
	maxConns                                                    *int
	web                                                         *web.FlagConfig
}

func parseFlags(args []string) (*flags, error) {
	app := kingpin.New(server.Name, "Prometheus exporter for Tencent Cloud Chat push delivery (normal_push_trace, push callbacks).")
	f := &flags{storageSet: new(bool)}
	f.configFile = app.Flag("config.file", "Configuration file.").Default(server.Name + ".yml").String()
	f.configCheck = app.Flag("config.check", "Validate the configuration file and exit (0 valid, 1 invalid).").Bool()
	f.demo = app.Flag("demo", "Run against a built-in simulator of the Tencent API with synthetic pushes; needs no config or account.").Bool()
	f.telemetryPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	f.web = kingpinflag.AddFlags(app, ":9846")
	// 256: scrapes, the trace page and /-/reload need a handful; the cap
	// only keeps a connection flood from taking every descriptor.
	f.maxConns = app.Flag("web.max-connections", "Maximum concurrent connections on the metrics listener; more wait in the kernel's queue.").Default("256").Int()
	f.storagePath = app.Flag("storage.path", "Directory of the state file (positions, pending PushIDs, counters). --demo: a fresh temporary directory unless given.").
		Default("data/").IsSetByUser(f.storageSet).String()
	f.checkpointInterval = app.Flag("storage.checkpoint-interval", "How often state is saved (and served counters advance).").Default("1s").Duration()
	f.logLevel = app.Flag("log.level", "Only log messages with this severity or above: debug, info, warn, error.").Default("info").Enum("debug", "info", "warn", "error")
	f.logFormat = app.Flag("log.format", "Log format: logfmt or json.").Default("logfmt").Enum("logfmt", "json")
	app.Version(version.Print(server.Name))
	app.HelpFlag.Short('h')
	_, err := app.Parse(args)
	return f, err
}

func newLogger(lvl, format string) log.Logger {
	var l log.Logger
	if format == "json" {
		l = log.NewJSONLogger(log.NewSyncWriter(os.Stderr))
	} else {
		l = log.NewLogfmtLogger(log.NewSyncWriter(os.Stderr))
	}
	l = level.NewFilter(l, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	return log.With(l, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller)
}

func run(args []string) int {
	f, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	logger := newLogger(*f.logLevel, *f.logFormat)
	if *f.configCheck {
		return checkConfig(*f.configFile, logger)
	}
	level.Info(logger).Log("msg", "starting "+server.Name, "version", version.Info(), "build_context", version.BuildContext())

	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector(server.Name), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := server.Options{
		Logger: logger, Registry: reg, StoragePath: *f.storagePath, CheckpointInterval: *f.checkpointInterval,
		TelemetryPath: *f.telemetryPath, Web: f.web, MaxConnections: *f.maxConns, ShutdownBudget: shutdownBudget,
		Slog: func(part string) *slog.Logger {
			return slog.New(sloggokit.NewGoKitHandler(log.With(logger, "listener", part), nil))
		},
	}
	cfg, reloader, cleanup, err := configure(f, &opts, reg, logger)
	if err != nil {
		level.Error(logger).Log("msg", "cannot start", "err", err)
		return 1
	}
	defer cleanup()
	for _, w := range cfg.Warnings {
		level.Warn(logger).Log("msg", "configuration", "warning", w)
	}
	srv, err := server.New(cfg, opts)
	if err != nil {
		level.Error(logger).Log("msg", "cannot start", "err", err)
		return 1
	}
	if reloader != nil {
		reloader.OnReload(srv.Reload)
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		go func() {
			for range hup {
				_ = reloader.Reload() // logged by the reloader
			}
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		level.Info(logger).Log("msg", "shutting down")
		select {
		case err = <-done:
		case <-time.After(shutdownBudget + time.Second):
			level.Error(logger).Log("msg", "did not stop in time; the last saved state is used on restart")
			return 1
		}
	}
	if err != nil {
		level.Error(logger).Log("msg", "stopped", "err", err)
		return 1
	}
	level.Info(logger).Log("msg", "stopped")
	return 0
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

// configure returns the configuration to start with: the file's, with its
// reloader, or the demo's, whose state goes to a fresh temporary directory
// unless --storage.path was given (a second demo must not inherit the
// first one's counters).
func configure(f *flags, o *server.Options, reg prometheus.Registerer, logger log.Logger) (*config.Config, *config.Reloader, func(), error) {
	if !*f.demo {
		r, err := config.NewReloader(*f.configFile, reg, log.With(logger, "component", "config"))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("invalid configuration %s: %w", *f.configFile, err)
		}
		o.Reload = r.Reload
		return r.Current(), r, func() {}, nil
	}
	dm, err := demo.Start(clock.Real{})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("demo mode: %w", err)
	}
	reg.MustRegister(dm)
	o.Demo = dm
	cleanup := func() { dm.Close() }
	if !*f.storageSet {
		dir, err := os.MkdirTemp("", "timpush-demo-")
		if err != nil {
			dm.Close()
			return nil, nil, nil, fmt.Errorf("demo mode: %w", err)
		}
		o.StoragePath = dir
		cleanup = func() { dm.Close(); os.RemoveAll(dir) }
	}
	level.Warn(logger).Log("msg", "DEMO MODE: all data is synthetic, produced by a built-in simulator of the Tencent API",
		"app", demo.AppName, "storage", o.StoragePath)
	return dm.Config, nil, cleanup, nil
}

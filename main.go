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
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/buildinfo"
	"github.com/timpush/timpush_exporter/internal/demo"
	"github.com/timpush/timpush_exporter/internal/logging"
	"github.com/timpush/timpush_exporter/internal/server"
)

// shutdownBudget bounds a graceful stop: SIGTERM to exit in under 5 s.
const shutdownBudget = 4 * time.Second

func main() {
	buildinfo.Fill() // before --version and the build_info metric read it
	os.Exit(run(os.Args[1:]))
}

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
	// Declared group by group (config, storage, web, log): kingpin prints
	// them in this order in --help.
	f.configFile = app.Flag("config.file", "Configuration file.").Default(server.Name + ".yml").String()
	f.configCheck = app.Flag("config.check", "Validate the configuration file and exit (0 valid, 1 invalid).").Bool()
	f.demo = app.Flag("demo", "Run against a built-in simulator of the Tencent API with synthetic pushes; needs no config or account.").Bool()
	f.storagePath = app.Flag("storage.path", "Directory of the state file (positions, pending PushIDs, counters). --demo: a fresh temporary directory unless given.").
		Default("data/").IsSetByUser(f.storageSet).String()
	f.checkpointInterval = app.Flag("storage.checkpoint-interval", "How often state is saved (and served counters advance).").Default("1s").Duration()
	f.telemetryPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	f.web = kingpinflag.AddFlags(app, ":9846")
	// 256: scrapes, the trace page and /-/reload need a handful; the cap
	// only keeps a connection flood from taking every descriptor.
	f.maxConns = app.Flag("web.max-connections", "Maximum concurrent connections on the metrics listener; more wait in the kernel's queue.").Default("256").Int()
	f.logLevel = app.Flag("log.level", "Only log messages with this severity or above: debug, info, warn, error.").Default("info").Enum("debug", "info", "warn", "error")
	f.logFormat = app.Flag("log.format", "Log format: logfmt or json.").Default("logfmt").Enum("logfmt", "json")
	app.Version(version.Print(server.Name))
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
		ok, err := config.Check(*f.configFile, func(w string) { level.Warn(logger).Log("msg", "configuration", "warning", w) })
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(ok)
		return 0
	}
	level.Info(logger).Log("msg", "starting "+server.Name, "version", version.Info(), "build_context", version.BuildContext())
	reg := prometheus.NewRegistry()
	opts := server.Options{
		Logger: logger, Registry: reg, StoragePath: *f.storagePath, CheckpointInterval: *f.checkpointInterval,
		TelemetryPath: *f.telemetryPath, Web: f.web, MaxConnections: *f.maxConns, ShutdownBudget: shutdownBudget,
		Slog: func(part string) *slog.Logger { return logging.Slog(log.With(logger, "listener", part)) },
	}
	cfg, reloader, cleanup, err := configure(f, &opts, reg, logger)
	if err != nil {
		level.Error(logger).Log("msg", "cannot start", "err", err)
		return 1
	}
	defer cleanup()
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
				_ = reloader.Reload() // the reloader logs its errors
			}
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Run(ctx); err != nil {
		level.Error(logger).Log("msg", "stopped", "err", err)
		return 1
	}
	level.Info(logger).Log("msg", "stopped")
	return 0
}

// configure returns the configuration to start with: the file's, with its
// reloader, or the demo's.
func configure(f *flags, o *server.Options, reg prometheus.Registerer, logger log.Logger) (*config.Config, *config.Reloader, func(), error) {
	if !*f.demo {
		r, err := config.NewReloader(*f.configFile, reg, log.With(logger, "component", "config"))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("invalid configuration %s: %w", *f.configFile, err)
		}
		o.Reload = r.Reload
		return r.Current(), r, func() {}, nil
	}
	dm, dir, cleanup, err := demo.Setup(o.StoragePath, *f.storageSet)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("demo mode: %w", err)
	}
	o.Demo, o.StoragePath = dm, dir
	return dm.Config, nil, cleanup, nil
}

package config

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// Reloader holds the running configuration and replaces it on Reload, only
// when the new file is valid and every subscriber accepted it.
type Reloader struct {
	path   string
	logger log.Logger
	now    func() time.Time

	mu   sync.Mutex // serializes Reload; guards subs
	subs []func(*Config) error
	cur  atomic.Pointer[Config]

	lastSuccessful prometheus.Gauge
	lastSuccessTS  prometheus.Gauge
}

// NewReloader loads the file at path once and returns an error if it is
// invalid. Its metrics are registered on reg (none if reg is nil). It logs
// nothing: the caller logs the error, or Current().Warnings.
func NewReloader(path string, reg prometheus.Registerer, logger log.Logger) (*Reloader, error) {
	return newReloader(path, reg, logger, time.Now)
}

func newReloader(path string, reg prometheus.Registerer, logger log.Logger, now func() time.Time) (*Reloader, error) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	r := &Reloader{
		path:   path,
		logger: logger,
		now:    now,
		lastSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "timpush_exporter_config_last_reload_successful",
			Help: "Whether the last configuration load or reload attempt was successful (1) or not (0).",
		}),
		lastSuccessTS: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "timpush_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load or reload.",
		}),
	}
	cfg, err := Load(path)
	if err != nil {
		return nil, err
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{r.lastSuccessful, r.lastSuccessTS} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering config metrics: %w", err)
			}
		}
	}
	r.swap(cfg)
	return r, nil
}

// Current returns the running configuration. Callers must not modify it.
func (r *Reloader) Current() *Config { return r.cur.Load() }

// OnReload adds fn to the functions Reload applies a new configuration to,
// in the order they were added, before it becomes Current. They are not
// called for the configuration NewReloader loaded, and must not call the
// Reloader's methods other than Current.
func (r *Reloader) OnReload(fn func(*Config) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs = append(r.subs, fn)
}

// Reload loads the file again. If it is valid, every subscriber accepts it
// and the new configuration becomes Current. Otherwise the running one is
// kept (subscribers that had accepted the new one are given the running one
// again), the error is logged once here and returned for the caller to
// report, not to log again. The new file's warnings are logged here too.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := Load(r.path)
	if err == nil {
		err = r.apply(cfg)
	}
	if err != nil {
		r.lastSuccessful.Set(0)
		level.Error(r.logger).Log("msg", "Error reloading config, keeping the running one", "file", r.path, "err", err)
		return err
	}
	r.swap(cfg)
	level.Info(r.logger).Log("msg", "Reloaded config", "file", r.path, "apps", len(cfg.Apps))
	for _, w := range cfg.Warnings {
		level.Warn(r.logger).Log("msg", "Config warning", "file", r.path, "warning", w)
	}
	return nil
}

// apply hands cfg to each subscriber; after a refusal, the ones that had
// accepted it are given the running configuration back.
func (r *Reloader) apply(cfg *Config) error {
	for i, fn := range r.subs {
		err := fn(cfg)
		if err == nil {
			continue
		}
		old := r.cur.Load()
		for _, undo := range r.subs[:i] {
			if uerr := undo(old); uerr != nil {
				level.Error(r.logger).Log("msg", "Error restoring the running config after a refused reload", "err", uerr)
			}
		}
		return fmt.Errorf("applying config: %w", err)
	}
	return nil
}

func (r *Reloader) swap(cfg *Config) {
	r.cur.Store(cfg)
	r.lastSuccessful.Set(1)
	r.lastSuccessTS.Set(float64(r.now().UnixNano()) / 1e9)
}

package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log"

	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pacer"
	"github.com/timpush/timpush_exporter/internal/statistics"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// configSource is the running configuration: a file that can be reloaded,
// or the demo's fixed one.
type configSource interface {
	Current() *config.Config
	Reload() error
	OnReload(func(*config.Config) error)
}

type staticConfig struct{ cfg *config.Config }

func (s *staticConfig) Current() *config.Config             { return s.cfg }
func (s *staticConfig) OnReload(func(*config.Config) error) {}
func (s *staticConfig) Reload() error {
	return fmt.Errorf("demo mode has no configuration file to reload")
}

// appBuilder turns configured apps into collector apps. It keeps one pacer
// per app name for the life of the process, so that a reload (new key,
// endpoint or rate) can never reset the rate limiter and allow a burst.
type appBuilder struct {
	coll   *collector.Collector
	logger log.Logger
	stats  *statPollers // nil: no statistics polling

	mu     sync.Mutex
	pacers map[string]*pacer.Pacer
}

func newAppBuilder(coll *collector.Collector, logger log.Logger) *appBuilder {
	return &appBuilder{coll: coll, logger: logger, pacers: map[string]*pacer.Pacer{}}
}

func (b *appBuilder) apply(cfg *config.Config) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	clients := make(map[string]statistics.Client, len(cfg.Apps))
	apps := make([]collector.App, 0, len(cfg.Apps))
	for _, a := range cfg.Apps {
		p, ok := b.pacers[a.Name]
		if !ok {
			p = pacer.New(a.RateLimit, clock.Real{})
			b.pacers[a.Name] = p
		}
		client, err := timapi.New(timapi.Options{
			SDKAppID:   a.SDKAppID,
			Identifier: a.Identifier,
			SecretKey:  string(a.SecretKey),
			BaseURL:    a.BaseURL(),
			Location:   a.Location(),
			Limiter:    p,
			Observer:   b.coll.Observer(a.Name),
		})
		if err != nil {
			return fmt.Errorf("app %s: %w", a.Name, err)
		}
		p.SetRate(a.RateLimit)
		clients[a.Name] = client // statistics polls share the client, so its pacer
		requery := make([]time.Duration, len(a.RequeryAfter))
		for i, d := range a.RequeryAfter {
			requery[i] = time.Duration(d)
		}
		apps = append(apps, collector.App{
			Name:         a.Name,
			SampleRatio:  a.SampleRatio,
			QueryDelay:   time.Duration(a.QueryDelay),
			RequeryAfter: requery,
			MaxPending:   a.MaxPending,
			RateLimit:    a.RateLimit,
			Tracer:       client,
		})
	}
	b.stats.apply(cfg, clients)
	b.coll.SetApps(apps)
	return nil
}

package main

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"

	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pacer"
	"github.com/timpush/timpush_exporter/internal/statistics"
	"github.com/timpush/timpush_exporter/internal/taxonomy"
	"github.com/timpush/timpush_exporter/internal/timapi"
	"github.com/timpush/timpush_exporter/internal/tracepage"
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
	coll       *collector.Collector
	apiMetrics *timapi.Metrics // every client's attempts, shared
	logger     log.Logger
	stats      *statPollers // nil: no statistics polling

	mu      sync.Mutex
	pacers  map[string]*pacer.Pacer
	pages   map[string]pageApp // the trace page's view of each app, replaced on apply
	names   []string           // configured app names, in config order
	reasons *taxonomy.Table    // error reasons with the config's overrides
}

// pageApp is what the /trace page needs of an app.
type pageApp struct {
	tracer *timapi.Client
	loc    *time.Location
}

func newAppBuilder(coll *collector.Collector, apiMetrics *timapi.Metrics, logger log.Logger) *appBuilder {
	return &appBuilder{coll: coll, apiMetrics: apiMetrics, logger: logger, pacers: map[string]*pacer.Pacer{}, pages: map[string]pageApp{}}
}

// pageTracer is the trace page's Lookup: the app's page client and zone.
func (b *appBuilder) pageTracer(name string) (tracepage.Tracer, *time.Location, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.pages[name]
	if !ok {
		return nil, nil, false
	}
	return a.tracer, a.loc, true
}

// appNames lists the configured apps, for the trace page.
func (b *appBuilder) appNames() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.names...)
}

// describe is the trace page's meaning of a stage failure: its reason in
// the error taxonomy, and Tencent's text.
func (b *appBuilder) describe(platform, stage string, code int, info string) string {
	b.mu.Lock()
	reasons := b.reasons
	b.mu.Unlock()
	if reasons == nil {
		reasons = taxonomy.Default()
	}
	meaning := strings.ReplaceAll(reasons.Reason(platform, stage, code, info), "_", " ")
	if info != "" {
		meaning += ": " + info
	}
	return meaning
}

// newReasons builds the error taxonomy with the config's error_reasons.
func newReasons(cfg *config.Config) (*taxonomy.Table, error) {
	ov := make([]taxonomy.Override, len(cfg.ErrorReasons))
	for i, r := range cfg.ErrorReasons {
		ov[i] = taxonomy.Override{Platform: r.Platform, Stage: r.Stage, ErrorCode: r.ErrorCode, ErrorInfo: r.ErrorInfo, Reason: r.Reason}
	}
	t, err := taxonomy.New(ov)
	if err != nil {
		return nil, fmt.Errorf("error_reasons: %w", err)
	}
	return t, nil
}

func (b *appBuilder) apply(cfg *config.Config) error {
	reasons, err := newReasons(cfg)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	clients := make(map[string]statistics.Client, len(cfg.Apps))
	apps := make([]collector.App, 0, len(cfg.Apps))
	pages := make(map[string]pageApp, len(cfg.Apps))
	names := make([]string, 0, len(cfg.Apps))
	for _, a := range cfg.Apps {
		p, ok := b.pacers[a.Name]
		if !ok {
			p = pacer.New(a.RateLimit, clock.Real{})
			b.pacers[a.Name] = p
		}
		opts := timapi.Options{
			SDKAppID:   a.SDKAppID,
			Identifier: a.Identifier,
			SecretKey:  string(a.SecretKey),
			BaseURL:    a.BaseURL(),
			Location:   a.Location(),
			Limiter:    p,
			Metrics:    b.apiMetrics,
			App:        a.Name,
		}
		client, err := timapi.New(opts)
		if err != nil {
			return fmt.Errorf("app %s: %w", a.Name, err)
		}
		// The /trace page's client shares the SAME pacer, so page and
		// background queries together never exceed rate_limit. It waits as
		// interactive: ahead of the background queries, but within
		// trace_page_share of the calls while they wait too. One attempt
		// only: the page reports a failure at once instead of backing off,
		// and the user can reload. Its attempts count in the app's API
		// metrics like any other call.
		opts.Limiter = p.Interactive()
		opts.MaxAttempts = 1
		page, err := timapi.New(opts)
		if err != nil {
			return fmt.Errorf("app %s: %w", a.Name, err)
		}
		pages[a.Name] = pageApp{tracer: page, loc: a.Location()}
		names = append(names, a.Name)
		p.SetRate(a.RateLimit)
		p.SetShare(a.TracePageShare)
		clients[a.Name] = client // statistics polls share the client, so its pacer
		requery := make([]time.Duration, len(a.RequeryAfter))
		for i, d := range a.RequeryAfter {
			requery[i] = time.Duration(d)
		}
		apps = append(apps, collector.App{
			Name:         a.Name,
			SampleRatio:  a.SampleRatio,
			AutoSample:   a.SampleAuto,
			QueryDelay:   time.Duration(a.QueryDelay),
			RequeryAfter: requery,
			MaxPending:   a.MaxPending,
			RateLimit:    a.RateLimit,
			Tracer:       client,
		})
	}
	b.stats.apply(cfg, clients)
	b.coll.SetReasons(reasons)
	b.coll.SetApps(apps)
	b.pages, b.names, b.reasons = pages, names, reasons
	return nil
}

package server

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/pacer"
	"github.com/timpush/timpush_exporter/internal/scheduler"
	"github.com/timpush/timpush_exporter/internal/statistics"
	"github.com/timpush/timpush_exporter/internal/taxonomy"
	"github.com/timpush/timpush_exporter/internal/timapi"
	"github.com/timpush/timpush_exporter/internal/tracepage"
)

// apps is what the server built from the configured apps: one pacer per
// app name for the life of the process (so that a reload — a new key,
// endpoint or rate — can never reset the rate limiter and allow a burst),
// and, replaced whole on reload, the clients of the trace page and the
// error taxonomy.
type apps struct {
	mu      sync.Mutex
	pacers  map[string]*pacer.Pacer
	pages   map[string]pageApp
	names   []string
	reasons *taxonomy.Table
}

// pageApp is what the /trace page needs of an app.
type pageApp struct {
	tracer *timapi.Client
	loc    *time.Location
}

// appSet is everything built from a configuration's apps, not yet in use.
type appSet struct {
	scheduler []scheduler.App
	pages     map[string]pageApp
	names     []string
	reasons   *taxonomy.Table
	clients   map[string]statistics.Client // for the statistics pollers
	pacers    map[string]*pacer.Pacer      // every app's, new ones included
}

// build makes the clients of every app of cfg. It changes nothing: a
// pacer for a new app is created but kept only by apply.
func (s *Server) buildApps(cfg *config.Config) (*appSet, error) {
	reasons, err := newReasons(cfg)
	if err != nil {
		return nil, err
	}
	set := &appSet{pages: map[string]pageApp{}, reasons: reasons,
		clients: map[string]statistics.Client{}, pacers: map[string]*pacer.Pacer{}}
	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	for _, a := range cfg.Apps {
		p, ok := s.apps.pacers[a.Name]
		if !ok {
			p = pacer.New(a.RateLimit, s.clock)
		}
		set.pacers[a.Name] = p
		opts := timapi.Options{
			SDKAppID:   a.SDKAppID,
			Identifier: a.Identifier,
			SecretKey:  string(a.SecretKey),
			BaseURL:    a.BaseURL(),
			Location:   a.Location(),
			Limiter:    p,
			Clock:      s.clock,
			Metrics:    s.apiMetrics,
			App:        a.Name,
		}
		client, err := timapi.New(opts)
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", a.Name, err)
		}
		// The /trace page's client shares the SAME pacer, so that page and
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
			return nil, fmt.Errorf("app %s: %w", a.Name, err)
		}
		set.pages[a.Name] = pageApp{tracer: page, loc: a.Location()}
		set.names = append(set.names, a.Name)
		set.clients[a.Name] = client // statistics polls share the client, so its pacer
		requery := make([]time.Duration, len(a.RequeryAfter))
		for i, d := range a.RequeryAfter {
			requery[i] = time.Duration(d)
		}
		set.scheduler = append(set.scheduler, scheduler.App{
			Name:        a.Name,
			SampleRatio: a.SampleRatio,
			AutoSample:  a.SampleAuto,
			RateLimit:   a.RateLimit,
			Tracer:      client,
			Ledger: ledger.AppConfig{
				QueryDelay:   time.Duration(a.QueryDelay),
				RequeryAfter: requery,
				MaxPending:   a.MaxPending,
			},
		})
	}
	return set, nil
}

// applyApps puts set in use: rates, the scheduler's apps (and the ledger's),
// the taxonomy and the trace page's clients.
func (s *Server) applyApps(cfg *config.Config, set *appSet) {
	s.apps.mu.Lock()
	for _, a := range cfg.Apps {
		set.pacers[a.Name].SetRate(a.RateLimit)
		set.pacers[a.Name].SetShare(a.TracePageShare)
	}
	s.apps.pacers = set.pacers
	s.apps.pages, s.apps.names, s.apps.reasons = set.pages, set.names, set.reasons
	s.apps.mu.Unlock()
	s.ledger.SetReasons(set.reasons)
	s.scheduler.SetApps(set.scheduler)
}

// pageTracer is the trace page's Lookup: the app's page client and zone.
func (a *apps) pageTracer(name string) (tracepage.Tracer, *time.Location, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.pages[name]
	if !ok {
		return nil, nil, false
	}
	return p.tracer, p.loc, true
}

// appNames lists the configured apps, for the trace page.
func (a *apps) appNames() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.names...)
}

// describe is the trace page's meaning of a stage failure: its reason in
// the error taxonomy, and Tencent's text.
func (a *apps) describe(platform, stage string, code int, info string) string {
	a.mu.Lock()
	reasons := a.reasons
	a.mu.Unlock()
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

package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/internal/exposition"
	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/scheduler"
	"github.com/timpush/timpush_exporter/internal/store"
)

// pipeline is the exporter's pipeline as internal/server builds it: the
// ledger (embedded: it is the sources' Sink), the scheduler, and the
// collector serving both on a registry.
type pipeline struct {
	*ledger.Ledger
	sched *scheduler.Scheduler
	coll  *collector.Collector
}

// benchApp is an app of the benchmarks: rate_limit 1 unless set, no
// requeries unless set.
type benchApp struct {
	name         string
	ratio        float64 // 0: sample_ratio auto
	queryDelay   time.Duration
	requeryAfter []time.Duration
	maxPending   int
	rateLimit    float64
	tracer       scheduler.Tracer
}

func (a benchApp) app() scheduler.App {
	if a.rateLimit == 0 {
		a.rateLimit = 1
	}
	return scheduler.App{Name: a.name, SampleRatio: a.ratio, AutoSample: a.ratio == 0, RateLimit: a.rateLimit, Tracer: a.tracer,
		Ledger: ledger.AppConfig{QueryDelay: a.queryDelay, RequeryAfter: a.requeryAfter, MaxPending: a.maxPending}}
}

// newPipeline builds the pipeline over st (nil: no state file), registers
// it on reg and loads the saved state.
func newPipeline(st *store.Store, reg prometheus.Registerer, lo ledger.Options, apps ...benchApp) (*pipeline, error) {
	lo.Store = st
	l := ledger.New(lo)
	s := scheduler.New(l, scheduler.Options{Clock: lo.Clock})
	var sa []scheduler.App
	for _, a := range apps {
		sa = append(sa, a.app())
	}
	s.SetApps(sa)
	if err := l.Restore(); err != nil {
		return nil, err
	}
	p := &pipeline{Ledger: l, sched: s, coll: collector.New(l, s)}
	if reg != nil {
		reg.MustRegister(p.coll)
	}
	return p, nil
}

// Run runs the scheduler (workers, checkpoints) until ctx ends.
func (p *pipeline) Run(ctx context.Context) error { return p.sched.Run(ctx) }

// Families are the saved series (exposition.Source).
func (p *pipeline) Families() []*exposition.Family { return p.coll.Families() }

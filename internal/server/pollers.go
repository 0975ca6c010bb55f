package server

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/log"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/statistics"
)

// pollers runs one statistics poller per app with a statistics_interval,
// through the app's own client (and so its pacer), on the server's clock,
// and replaces them on reload: a new poller keeps its app's last values,
// counters and schedule.
type pollers struct {
	s    *Server
	coll *statistics.Collector

	mu      sync.Mutex
	ctx     context.Context // set while run runs
	current []*statistics.Poller
	cancel  context.CancelFunc // stops the running pollers
	wg      sync.WaitGroup
}

// apply replaces the pollers with those of cfg.
func (p *pollers) apply(cfg *config.Config, clients map[string]statistics.Client) {
	var next []*statistics.Poller
	for _, a := range cfg.Apps {
		if a.StatisticsInterval <= 0 || clients[a.Name] == nil {
			continue
		}
		next = append(next, statistics.NewPoller(statistics.Options{
			App: a.Name, Client: clients[a.Name], Interval: time.Duration(a.StatisticsInterval),
			Clock: p.s.clock, Logger: log.With(p.s.logger, "component", "statistics"),
		}))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked() // first, so that the new pollers take over final values
	p.coll.Set(next)
	p.current = next
	if p.ctx != nil {
		p.startLocked()
	}
}

func (p *pollers) startLocked() {
	ctx, cancel := context.WithCancel(p.ctx)
	p.cancel = cancel
	for _, poller := range p.current {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); poller.Run(ctx) }()
	}
}

func (p *pollers) stopLocked() {
	if p.cancel != nil {
		p.cancel()
		p.wg.Wait()
		p.cancel = nil
	}
}

// run runs the pollers until ctx ends; a call in flight is abandoned.
func (p *pollers) run(ctx context.Context) {
	p.mu.Lock()
	p.ctx = ctx
	p.startLocked()
	p.mu.Unlock()
	<-ctx.Done()
	p.mu.Lock()
	p.stopLocked()
	p.ctx = nil
	p.mu.Unlock()
}

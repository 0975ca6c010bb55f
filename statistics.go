package main

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/statistics"
)

// statPollers runs one statistics poller per app with a
// statistics_interval, through the app's own client (and so its pacer), and
// replaces them on reload. Its methods are no-ops on a nil *statPollers.
type statPollers struct {
	coll   *statistics.Collector
	logger log.Logger

	mu     sync.Mutex
	cancel context.CancelFunc // stops the running pollers
	wg     sync.WaitGroup
}

func newStatPollers(reg prometheus.Registerer, logger log.Logger) *statPollers {
	return &statPollers{coll: statistics.NewCollector(reg), logger: logger}
}

// apply stops the running pollers and starts new ones; a new poller keeps
// its app's last values, counters and schedule. clients holds each app's
// client by name.
func (s *statPollers) apply(cfg *config.Config, clients map[string]statistics.Client) {
	if s == nil {
		return
	}
	var pollers []*statistics.Poller
	for _, a := range cfg.Apps {
		if a.StatisticsInterval <= 0 || clients[a.Name] == nil {
			continue
		}
		pollers = append(pollers, statistics.NewPoller(statistics.Options{
			App: a.Name, Client: clients[a.Name], Interval: time.Duration(a.StatisticsInterval), Logger: s.logger,
		}))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked() // first, so the new pollers take over final values
	s.coll.Set(pollers)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, p := range pollers {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); p.Run(ctx) }()
	}
}

// stop stops the pollers; a call in flight is abandoned.
func (s *statPollers) stop() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *statPollers) stopLocked() {
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
		s.cancel = nil
	}
}

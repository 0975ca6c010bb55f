// Package pacer spaces the REST calls of one app so that the documented limit
// (one call per second for the push-trace API) is never exceeded, whatever
// mixes of first queries, retries, trace-page lookups and reloads share it.
package pacer

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/timpush/timpush_exporter/internal/clock"
)

// Headroom stretches the interval between calls by 0.5 %, so that scheduling
// and network jitter of a few milliseconds cannot make two calls land inside
// one server-side second. It costs 0.5 % of the budget.
const Headroom = 1.005

// Pacer is a token bucket of burst 1: calls are at least 1/rate apart.
type Pacer struct {
	clock clock.Clock

	mu  sync.Mutex
	lim *rate.Limiter
}

// New returns a pacer for perSecond calls per second. The bucket starts
// empty, so the first call after a (re)start also waits one interval: a
// process restarted right after its last call still keeps the limit.
func New(perSecond float64, clk clock.Clock) *Pacer {
	lim := rate.NewLimiter(limitFor(perSecond), 1)
	lim.ReserveN(clk.Now(), 1)
	return &Pacer{clock: clk, lim: lim}
}

func limitFor(perSecond float64) rate.Limit {
	return rate.Limit(perSecond / Headroom)
}

// SetRate changes the rate; calls already waiting keep their slot.
func (p *Pacer) SetRate(perSecond float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lim.SetLimitAt(p.clock.Now(), limitFor(perSecond))
}

// Rate returns the configured calls per second (without headroom).
func (p *Pacer) Rate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return float64(p.lim.Limit()) * Headroom
}

// Wait blocks until the caller may make one call, or ctx ends. A cancelled
// wait gives its slot back.
func (p *Pacer) Wait(ctx context.Context) error {
	p.mu.Lock()
	now := p.clock.Now()
	r := p.lim.ReserveN(now, 1)
	p.mu.Unlock()
	delay := r.DelayFrom(now)
	if delay <= 0 {
		return nil
	}
	t := p.clock.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		r.CancelAt(p.clock.Now())
		p.mu.Unlock()
		return ctx.Err()
	}
}

// Delay reports how long a call made now would wait, without reserving.
func (p *Pacer) Delay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	r := p.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return d
}

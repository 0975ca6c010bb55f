// Package statistics polls Tencent's unsampled push totals
// (normal_push_statistics) and loss reasons (normal_push_loss) for each app
// and exports the last successful replies as gauges. It hides the poll
// schedule, the carry-over of values across reloads, the lenient reading of
// odd replies and the bounds on label values; the REST calls and their
// pacing are the client's.
package statistics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Window is how far back each poll looks: the last 24 hours.
const Window = 24 * time.Hour

// Client is the part of *timapi.Client a Poller uses. The client paces its
// calls on the app's limiter, which the app's trace queries share.
type Client interface {
	Statistics(ctx context.Context, start, end time.Time) (*timapi.Statistics, error)
	Loss(ctx context.Context, start, end time.Time) (*timapi.Loss, error)
}

// Options configures a Poller.
type Options struct {
	App      string        // the app label
	Client   Client        // required
	Interval time.Duration // time between polls; <= 0 disables polling
	Clock    clock.Clock   // nil: clock.Real{}
	Logger   log.Logger    // nil: no logging
}

// The APIs polled, as the api label says them.
const (
	apiStatistics = iota
	apiLoss
	numAPIs
)

var apiNames = [numAPIs]string{"normal_push_statistics", "normal_push_loss"}

// errNoReply is recorded for a client that returned neither a reply nor an error.
var errNoReply = errors.New("statistics: the client returned no reply")

// Poller polls one app's statistics and loss reasons every Interval.
type Poller struct {
	app      string
	client   Client
	interval time.Duration
	clock    clock.Clock
	logger   log.Logger

	mu sync.Mutex
	st state
}

// state is what a Poller exports and carries over a reload.
type state struct {
	last time.Time // when the last poll began; zero before the first
	apis [numAPIs]apiState
}

// apiState is the outcome of one API's polls. gauges and info are replaced,
// never modified, so a copy of the struct is a consistent snapshot.
type apiState struct {
	gauges  []point // push_statistics_pushes or push_loss_pushes
	info    []point // push_loss_reason_info (loss only)
	success time.Time
	ok      uint64 // polls that succeeded
	failed  uint64 // polls that failed
	streak  int    // failures since the last success
}

// NewPoller returns a poller; Run starts it.
func NewPoller(o Options) *Poller {
	p := &Poller{app: o.App, client: o.Client, interval: o.Interval, clock: o.Clock, logger: o.Logger}
	if p.clock == nil {
		p.clock = clock.Real{}
	}
	if p.logger == nil {
		p.logger = log.NewNopLogger()
	}
	return p
}

// Run polls until ctx ends: at once (or, for a poller that took over an
// earlier one's state, when that one's next poll was due), then every
// Interval. It returns at once when polling is disabled.
func (p *Poller) Run(ctx context.Context) {
	if p.interval <= 0 || p.client == nil {
		return
	}
	wait := p.firstWait()
	for p.sleep(ctx, wait) {
		began := p.clock.Now()
		p.poll(ctx)
		if ctx.Err() != nil {
			return
		}
		// A poll that outlasted the interval (retries, back-off) is followed
		// by a full interval rather than by another poll at once.
		if wait = p.interval - p.clock.Now().Sub(began); wait <= 0 {
			wait = p.interval
		}
	}
}

// firstWait is zero for a fresh poller, and for one whose inherited last
// poll failed (the reload may have fixed the cause).
func (p *Poller) firstWait() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st.last.IsZero() {
		return 0
	}
	for _, a := range p.st.apis {
		if a.streak > 0 {
			return 0
		}
	}
	return max(p.st.last.Add(p.interval).Sub(p.clock.Now()), 0)
}

// sleep waits d on the clock and reports whether ctx is still live.
func (p *Poller) sleep(ctx context.Context, d time.Duration) bool {
	if d > 0 {
		t := p.clock.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C():
		case <-ctx.Done():
		}
	}
	return ctx.Err() == nil
}

// poll asks both APIs about the last Window, one after the other.
func (p *Poller) poll(ctx context.Context) {
	end := p.clock.Now().Truncate(time.Second)
	start := end.Add(-Window)
	p.mu.Lock()
	prev := p.st.last
	p.st.last = end
	p.mu.Unlock()
	// Stopping (a reload) is neither a success nor a failure, and the
	// poller taking over should not wait a whole interval for this poll.
	stopped := func() bool {
		if ctx.Err() == nil {
			return false
		}
		p.mu.Lock()
		p.st.last = prev
		p.mu.Unlock()
		return true
	}

	s, err := p.client.Statistics(ctx, start, end)
	if stopped() {
		return
	}
	var gauges []point
	if err == nil && s == nil {
		err = errNoReply
	}
	if err == nil {
		gauges = statisticsPoints(s)
	}
	p.record(apiStatistics, gauges, nil, err)

	l, err := p.client.Loss(ctx, start, end)
	if stopped() {
		return
	}
	var info []point
	if err == nil && l == nil {
		err = errNoReply
	}
	if err == nil {
		gauges, info = lossPoints(l)
	}
	p.record(apiLoss, gauges, info, err)
}

// record keeps a successful reply's series, or keeps the previous ones and
// logs the first failure of a streak.
func (p *Poller) record(api int, gauges, info []point, err error) {
	now := p.clock.Now()
	p.mu.Lock()
	a := &p.st.apis[api]
	if err != nil {
		a.failed++
		a.streak++
		first := a.streak == 1
		p.mu.Unlock()
		if first {
			level.Warn(p.logger).Log("msg", "statistics poll failed; keeping the last values until one succeeds",
				"app", p.app, "api", apiNames[api], "err", err)
		}
		return
	}
	failed := a.streak
	a.gauges, a.info, a.success, a.streak = gauges, info, now, 0
	a.ok++
	p.mu.Unlock()
	if failed > 0 {
		level.Info(p.logger).Log("msg", "statistics poll succeeded again", "app", p.app, "api", apiNames[api], "failed_polls", failed)
	}
}

// snapshot returns a copy of the state.
func (p *Poller) snapshot() state {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// inherit takes over old's values, counters and schedule, unless p has
// already polled.
func (p *Poller) inherit(old *Poller) {
	st := old.snapshot()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st.last.IsZero() {
		p.st = st
	}
}

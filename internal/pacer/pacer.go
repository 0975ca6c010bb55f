// Package pacer spaces the REST calls of one app so that the documented limit
// (one call per second for the push-trace API) is never exceeded, whatever
// mixes of first queries, retries, trace-page lookups and reloads share it.
//
// The limit is enforced where it is counted: at the server, on arrival. A
// call sent on time can arrive late (a slow network, a busy host at either
// end), and the next one, sent a second later, can then reach the server
// less than a second after it. A fixed headroom big enough for the worst
// delay wastes budget on every call, so the pacer learns from each call when
// it can have arrived at the latest, and spaces the next calls from that:
//
//   - a call whose reply came back arrived at the latest when the reply's
//     first byte came back, less the shortest round trip seen in the last
//     hour (trip.go says why that is safe);
//   - a call that got no reply arrived, if at all, before it was given up;
//   - a call that was never written (the connection could not be made) did
//     not arrive and does not count;
//   - a call still in flight counts as arriving at any moment, so the next
//     call that would exceed the limit waits for its outcome.
//
// The server is modelled as the simulator models it: at most N calls in any
// sliding window of W, where N/W is rate_limit (N = rate_limit and W = 1 s
// from 1 call/s up, N = 1 and W = 1/rate_limit below). Between those
// arrival-based checks the calls are spread evenly: no two are let through
// less than 90 % of 1/rate_limit apart.
//
// Callers wait in a queue, not on reservations: a wait that ends early (a
// trace page's deadline) leaves the queue and costs nothing, and the next
// waiter takes its turn. There are two queues. Interactive waits (the trace
// page, through Interactive) go first, but while background work waits too
// they take at most a share of the calls (SetShare, over the last
// shareCalls calls), so that a flood of page lookups cannot stop the
// background queries.
package pacer

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

// Margin is added to every window: the clocks' resolution and a timer that
// fires a little early must not bring a call inside the window. At 1 call/s
// it costs 0.1 % of the budget.
const Margin = time.Millisecond

// Pacer lets one app's calls through so that the server never counts more
// than its limit. It is safe for concurrent use.
type Pacer struct {
	clock clock.Clock

	mu        sync.Mutex
	perWindow int           // N: calls the server accepts per window
	window    time.Duration // W
	rate      float64
	calls     []*call   // calls that may still be inside a window, in release order
	fullUntil time.Time // New's full window: no call before it
	allowed   time.Time // when the last call let through was allowed to go
	trips     shortestTrip
	queue     queue // the callers waiting for their turn
}

// call is one call let through.
type call struct {
	finished bool          // its done func was called
	counted  bool          // the server may have counted it (valid when finished)
	arrived  time.Time     // at the latest (valid when finished and counted)
	done     chan struct{} // closed when finished
}

// New returns a pacer for perSecond calls per second. It starts as if the
// server had just counted a full window of calls: a process restarted right
// after its last calls still keeps the limit.
func New(perSecond float64, clk clock.Clock) *Pacer {
	p := &Pacer{clock: clk, queue: newQueue(DefaultShare)}
	p.setWindowLocked(perSecond)
	p.fullUntil = clk.Now().Add(p.window + Margin)
	return p
}

// setWindowLocked derives the server's window from a rate.
func (p *Pacer) setWindowLocked(perSecond float64) {
	p.rate = perSecond
	if perSecond >= 1 {
		p.perWindow = int(math.Floor(perSecond))
		p.window = time.Second
		return
	}
	p.perWindow = 1
	p.window = time.Duration(float64(time.Second) / perSecond)
}

// SetRate changes the rate; calls already waiting keep their place, and
// calls already made still count against the new window.
func (p *Pacer) SetRate(perSecond float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setWindowLocked(perSecond)
	p.queue.changedLocked()
}

// SetShare sets the most of the calls that interactive waits take while
// background work waits too, a fraction in (0, 1); DefaultShare until set.
func (p *Pacer) SetShare(share float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue.share = share
	p.queue.changedLocked()
}

// Rate returns the configured calls per second.
func (p *Pacer) Rate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

// Wait blocks until the caller may make one background call, or ctx ends.
// A cancelled wait leaves the queue and costs the others nothing.
//
// On success the caller must report the call's outcome with done, exactly
// once (further calls are ignored); until then the call counts as arriving
// at any moment. sent is when the request was completely written, replied
// when the first byte of the reply came back; either is zero when it did
// not happen. Zero for both means nothing left the process, so the call did
// not count at the server.
func (p *Pacer) Wait(ctx context.Context) (done func(sent, replied time.Time), err error) {
	return p.wait(ctx, false)
}

// Interactive is a view of a Pacer whose waits are interactive: they go
// before background ones, within the share (see SetShare). The trace page's
// client waits through it.
type Interactive struct{ p *Pacer }

// Interactive returns the interactive view of p.
func (p *Pacer) Interactive() Interactive { return Interactive{p} }

// Wait is Pacer.Wait for an interactive call.
func (i Interactive) Wait(ctx context.Context) (done func(sent, replied time.Time), err error) {
	return i.p.wait(ctx, true)
}

func (p *Pacer) wait(ctx context.Context, interactive bool) (func(sent, replied time.Time), error) {
	p.mu.Lock()
	w := p.queue.addLocked(interactive)
	for {
		now := p.clock.Now()
		free, inFlight := p.windowFreeLocked(now)
		at := latest(free, p.spacedLocked())
		turn := p.queue.nextLocked() == w
		if turn && inFlight == nil && !at.After(now) {
			c := &call{done: make(chan struct{})}
			p.calls = append(p.calls, c)
			p.allowed = latest(at, now.Add(-p.catchUpLocked()))
			p.queue.releaseLocked(w)
			p.mu.Unlock()
			return func(sent, replied time.Time) { p.finish(c, sent, replied) }, nil
		}
		// Every waiter, not only the one whose turn it is, sleeps on the
		// clock until the next call may go (and wakes early when the queue
		// changes): a fake clock then sees each waiting caller on a timer,
		// which the tests that step time when all callers wait rely on.
		changed := p.queue.changed
		p.mu.Unlock()
		var until time.Time // zero: wait for the queue to change
		if at.After(now) {
			until = at
		}
		err := p.sleep(ctx, until, inFlight, changed)
		p.mu.Lock()
		if err != nil {
			p.queue.removeLocked(w)
			p.mu.Unlock()
			return nil, err
		}
	}
}

// spacedLocked is when the next call will be one interval (1/rate) after
// the moment the last call let through was allowed to go. The window alone
// would let a caller that waited long for it be followed at once by the
// next: fine for a server that counts calls per window, not for one that
// spaces them. Spacing from when the last call was allowed rather than
// from when it went lets a caller that woke up a little late be followed on
// time (up to catchUpLocked), so that wake-up delays are not lost from the
// budget.
func (p *Pacer) spacedLocked() time.Time {
	if p.allowed.IsZero() || p.rate <= 0 {
		return time.Time{}
	}
	return p.allowed.Add(p.intervalLocked())
}

// catchUpLocked is how much of a late wake-up the next call may make up:
// calls are never let through less than 90 % of an interval apart.
func (p *Pacer) catchUpLocked() time.Duration { return p.intervalLocked() / 10 }

func (p *Pacer) intervalLocked() time.Duration {
	return time.Duration(float64(time.Second) / p.rate)
}

func latest(ts ...time.Time) time.Time {
	l := ts[0]
	for _, t := range ts[1:] {
		if t.After(l) {
			l = t
		}
	}
	return l
}

// windowFreeLocked is when the server's window has room for one more call:
// a time in the past when it has room now (the moment it got room, so that
// a caller woken late can be followed on time), or zero when it never was
// full. When that depends on a call in flight it returns that call's done
// channel instead. It forgets calls that can no longer matter.
func (p *Pacer) windowFreeLocked(now time.Time) (time.Time, <-chan struct{}) {
	span := p.window + Margin
	var leave []time.Time // when each finished call that counts leaves the window
	var inFlight <-chan struct{}
	kept := p.calls[:0]
	for _, c := range p.calls {
		switch {
		case !c.finished:
			inFlight = c.done
		case !c.counted || c.arrived.Add(2*span).Before(now):
			continue // never counted, or left the window long enough ago
		default:
			leave = append(leave, c.arrived.Add(span))
		}
		kept = append(kept, c)
	}
	clear(p.calls[len(kept):])
	p.calls = kept
	excess := len(kept) - p.perWindow + 1 // calls that must leave before one more fits
	switch {
	case excess <= 0:
		return p.fullUntil, nil
	case excess > len(leave):
		return time.Time{}, inFlight // only an outcome can tell when
	}
	slices.SortFunc(leave, func(a, b time.Time) int { return a.Compare(b) })
	return latest(p.fullUntil, leave[excess-1]), nil
}

// finish records a call's outcome (see Wait).
func (p *Pacer) finish(c *call, sent, replied time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.finished {
		return
	}
	c.finished = true
	switch {
	case !replied.IsZero():
		if !sent.IsZero() && !replied.Before(sent) {
			p.trips.add(replied, replied.Sub(sent))
		}
		c.counted, c.arrived = true, replied.Add(-p.trips.get(replied))
	case !sent.IsZero():
		c.counted, c.arrived = true, p.clock.Now()
	}
	close(c.done)
	// The window now knows when this call arrived, which can bring the
	// next call forward: every waiter looks again, not only those that
	// waited for this outcome.
	p.queue.changedLocked()
}

// sleep waits until the clock reaches until (when not zero), for inFlight
// to be closed when it is not nil (then instead of until), or for changed
// to be closed, whichever comes first. The wait is measured from the time
// read here, not from when until was computed: a caller held up between
// the two (by the scheduler, or a test moving a fake clock) must not sleep
// past its turn.
func (p *Pacer) sleep(ctx context.Context, until time.Time, inFlight, changed <-chan struct{}) error {
	var fired <-chan time.Time
	if inFlight == nil && !until.IsZero() {
		d := until.Sub(p.clock.Now())
		if d <= 0 {
			return nil // due already: look again
		}
		t := p.clock.NewTimer(d)
		defer t.Stop()
		fired = t.C()
	}
	select {
	case <-fired:
	case <-inFlight:
	case <-changed:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Delay estimates how long a background call made now would wait: until
// the window has room and the spacing allows, plus one interval for each
// call already waiting. It leaves out any wait for the outcome of calls
// still in flight.
func (p *Pacer) Delay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	free, _ := p.windowFreeLocked(now)
	d := max(0, latest(free, p.spacedLocked()).Sub(now))
	if p.rate > 0 {
		d += time.Duration(p.queue.lenLocked()) * p.intervalLocked()
	}
	return d
}

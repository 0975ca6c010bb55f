package pacer

import (
	"context"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

// waitQueued returns once exactly background and interactive callers wait
// in p's queue: they have reached their wait, so the clock may move.
func waitQueued(t *testing.T, p *Pacer, background, interactive int) {
	t.Helper()
	watchdog := time.After(10 * time.Second) // only a hung test ever sees it
	for {
		p.mu.Lock()
		nb, ni := len(p.queue.background), len(p.queue.interactive)
		changed := p.queue.changed
		p.mu.Unlock()
		if nb == background && ni == interactive {
			return
		}
		select {
		case <-changed:
		case <-watchdog:
			t.Fatalf("queue holds %d background and %d interactive waiters, want %d and %d", nb, ni, background, interactive)
		}
	}
}

// nextCall moves the clock until one of the callers' calls is let
// through, and returns it. It moves the clock only while each of the
// waiters callers sleeps on it, to the earliest deadline. A count of
// timers can include one its waiter is about to drop (it was woken by a
// change of the queue), so a step may release nobody: then every caller
// sleeps on the clock again, and it steps again.
func nextCall(t *testing.T, clk *clock.Fake, waiters int, calls <-chan releasedCall) releasedCall {
	t.Helper()
	watchdog := time.After(10 * time.Second) // only a hung test ever sees it
	for {
		for {
			n, changed := clk.Pending()
			if n >= waiters {
				break
			}
			select {
			case c := <-calls:
				return c
			case <-changed:
			case <-watchdog:
				t.Fatalf("%d callers sleep on the clock, want %d, and no call came", n, waiters)
			}
		}
		select {
		case c := <-calls:
			return c
		default:
		}
		if next, ok := clk.NextDeadline(); ok {
			clk.Set(next)
		}
	}
}

// releasedCall is a call let through to one of the callers of caller.
type releasedCall struct {
	at          time.Time
	interactive bool
}

// caller makes calls one after the other, as the app's worker or a trace
// page lookup does, until ctx ends; each reply comes back at once.
func caller(ctx context.Context, p *Pacer, clk clock.Clock, interactive bool, out chan<- releasedCall) {
	wait := p.Wait
	if interactive {
		wait = p.Interactive().Wait
	}
	for {
		done, err := wait(ctx)
		if err != nil {
			return
		}
		now := clk.Now()
		out <- releasedCall{now, interactive}
		done(now, now)
	}
}

// TestCancelledFloodKeepsTheBackgroundRate is the /trace flood of issue
// 13.4: each second, 20 page lookups queue up and give up just before their
// turn. They used to keep their rate.Limiter reservations (about a second of
// budget lost per lookup, and background tracing stopped for a minute);
// now a wait that ends leaves the queue, and the background calls keep
// going at the full rate.
func TestCancelledFloodKeepsTheBackgroundRate(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(1, clk)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	calls := make(chan releasedCall)
	go caller(ctx, p, clk, false, calls)

	var at []time.Time
	for range 30 {
		waitQueued(t, p, 1, 0)
		var cancels []context.CancelFunc
		for range 20 {
			lookup, cancel := context.WithCancel(ctx)
			cancels = append(cancels, cancel)
			go p.Interactive().Wait(lookup)
		}
		waitQueued(t, p, 1, 20)
		clk.BlockUntil(21) // the first lookup's turn is due at the earliest deadline
		next, _ := clk.NextDeadline()
		clk.Set(next.Add(-time.Millisecond))
		for _, cancel := range cancels { // they time out in the order they came
			cancel()
		}
		waitQueued(t, p, 1, 0)
		at = append(at, nextCall(t, clk, 1, calls).at)
	}
	checkLimit(t, at, 1)
	if span, want := at[len(at)-1].Sub(at[0]), 29*(time.Second+Margin); span != want {
		t.Fatalf("30 background calls took %v under the flood, want %v: the full rate", span, want)
	}
}

// TestInteractiveShare: with background and interactive callers always
// waiting, the interactive ones get their share of the calls and the
// background ones the rest, and the limit holds throughout.
func TestInteractiveShare(t *testing.T) {
	for _, share := range []float64{0.5, 0.2, 0.9} {
		t.Run("", func(t *testing.T) {
			clk := clock.NewFake(t0)
			p := New(2, clk)
			p.SetShare(share)
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			calls := make(chan releasedCall)
			go caller(ctx, p, clk, false, calls)
			go caller(ctx, p, clk, true, calls) // the page's two lookups in flight
			go caller(ctx, p, clk, true, calls)

			const total = 300
			var at []time.Time
			interactive := 0
			for range total {
				waitQueued(t, p, 1, 2)
				c := nextCall(t, clk, 3, calls)
				at = append(at, c.at)
				if c.interactive {
					interactive++
				}
			}
			checkLimit(t, at, 2)
			if got := float64(interactive) / total; got < share-0.01 || got > share+0.01 {
				t.Fatalf("interactive calls took %.3f of the calls, want their share %.2f", got, share)
			}
			if span := at[total-1].Sub(at[0]); span > time.Duration(total/2+1)*(time.Second+Margin) {
				t.Fatalf("%d calls took %v at 2 calls/s: budget lost", total, span)
			}
		})
	}
}

// TestInteractiveGoesFirst: a page lookup behind a long background queue
// gets the next call, and with nobody else waiting it takes every call.
func TestInteractiveGoesFirst(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(1, clk)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	calls := make(chan releasedCall)
	for range 3 {
		go caller(ctx, p, clk, false, calls)
	}
	waitQueued(t, p, 3, 0)
	for range 5 { // background calls only
		nextCall(t, clk, 3, calls)
		waitQueued(t, p, 3, 0)
	}
	go func() { // one page lookup
		done, err := p.Interactive().Wait(ctx)
		if err == nil {
			now := clk.Now()
			calls <- releasedCall{now, true}
			done(now, now)
		}
	}()
	waitQueued(t, p, 3, 1)
	if c := nextCall(t, clk, 4, calls); !c.interactive {
		t.Fatalf("a background call went at %v before the waiting page lookup", c.at.Sub(t0))
	}

	// Alone, interactive callers are not held to their share.
	stop()
	waitQueued(t, p, 0, 0)
	alone := New(1, clk)
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	go caller(ctx2, alone, clk, true, calls)
	for range 10 {
		waitQueued(t, alone, 0, 1)
		if c := nextCall(t, clk, 1, calls); !c.interactive {
			t.Fatal("a background call from nowhere")
		}
	}
}

// TestDelayCountsTheQueue: Delay includes an interval for each waiter
// ahead, and a waiter that gave up is not counted.
func TestDelayCountsTheQueue(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(1, clk)
	ctx, cancel := context.WithCancel(context.Background())
	for range 2 {
		go p.Wait(ctx)
	}
	waitQueued(t, p, 2, 0)
	if d, want := p.Delay(), time.Second+Margin+2*time.Second; d != want {
		t.Fatalf("Delay() = %v with two callers waiting, want %v", d, want)
	}
	cancel()
	waitQueued(t, p, 0, 0)
	if d, want := p.Delay(), time.Second+Margin; d != want {
		t.Fatalf("Delay() = %v after they gave up, want %v", d, want)
	}
}

package pacer

import (
	"context"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// intervalAt is the spacing of calls at perSecond.
func intervalAt(perSecond float64) time.Duration {
	return time.Duration(float64(time.Second) * Headroom / perSecond)
}

// release runs Wait in a goroutine and returns a channel that yields the
// fake time at which Wait returned.
func release(p *Pacer, clk *clock.Fake) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		if err := p.Wait(context.Background()); err != nil {
			panic(err)
		}
		ch <- clk.Now()
	}()
	return ch
}

// TestLateWakeUpDelaysTheNextCall: a caller that wakes up late for its slot
// (a busy host) is let through late, and the next caller must still be a
// whole interval behind it, not at the bucket's next slot. Without that, at
// 5 calls/s one late wake-up put six calls inside one second.
func TestLateWakeUpDelaysTheNextCall(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(5, clk)
	interval := intervalAt(5)

	first := release(p, clk)
	clk.BlockUntil(1)
	slot, _ := clk.NextDeadline()
	if got := slot.Sub(t0); got < interval-time.Microsecond {
		t.Fatalf("first slot %v after start, want one interval (%v): the bucket starts empty", got, interval)
	}
	clk.Set(slot.Add(30 * time.Millisecond)) // woken 30 ms late
	at1 := <-first

	at2 := finish(clk, release(p, clk))
	if gap := at2.Sub(at1); gap < interval-time.Microsecond {
		t.Fatalf("second call %v after the first, want at least %v", gap, interval)
	}
}

// finish steps the fake clock to each deadline the pacer sleeps until and
// returns the time at which Wait returned on ch.
func finish(clk *clock.Fake, ch <-chan time.Time) time.Time {
	for {
		waiting := make(chan struct{})
		go func() { clk.BlockUntil(1); close(waiting) }()
		select {
		case at := <-ch:
			t := clk.NewTimer(time.Hour) // lets the BlockUntil above return
			<-waiting
			t.Stop()
			return at
		case <-waiting:
			next, _ := clk.NextDeadline()
			clk.Set(next)
		}
	}
}

// TestSpacingOnTime: callers woken on time are exactly one interval apart,
// and Delay says how long the next one would wait.
func TestSpacingOnTime(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(5, clk)
	interval := intervalAt(5)
	var prev time.Time
	for i := range 6 {
		ch := release(p, clk)
		clk.BlockUntil(1)
		next, _ := clk.NextDeadline()
		clk.Set(next)
		at := <-ch
		if i > 0 {
			if gap := at.Sub(prev); gap < interval-time.Microsecond || gap > interval+time.Microsecond {
				t.Fatalf("call %d: %v after the previous one, want %v", i, gap, interval)
			}
		}
		prev = at
	}
	if d := p.Delay(); d < interval-time.Microsecond || d > interval+time.Microsecond {
		t.Fatalf("Delay() = %v right after a call, want %v", d, interval)
	}
}

// TestCancelledWaitGivesItsSlotBack: a wait ended by its context does not
// use up the slot.
func TestCancelledWaitGivesItsSlotBack(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(1, clk)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Wait(ctx) }()
	clk.BlockUntil(1)
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("Wait returned nil after its context was cancelled")
	}
	ch := release(p, clk)
	clk.BlockUntil(1)
	next, _ := clk.NextDeadline()
	if d := next.Sub(t0); d > intervalAt(1)+time.Microsecond {
		t.Fatalf("next slot %v after start: the cancelled wait kept its slot", d)
	}
	clk.Set(next)
	<-ch
}

package pacer

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// released is one call let through: when, and how to report its outcome.
type released struct {
	at   time.Time
	done func(sent, replied time.Time)
}

// release runs Wait in a goroutine and returns a channel that yields the
// fake time at which Wait returned.
func release(p *Pacer, clk clock.Clock) <-chan released {
	ch := make(chan released, 1)
	go func() {
		done, err := p.Wait(context.Background())
		if err != nil {
			panic(err)
		}
		ch <- released{clk.Now(), done}
	}()
	return ch
}

// step moves the fake clock to each deadline the pacer sleeps until, plus
// late (a caller woken late), and returns the release on ch.
func step(clk *clock.Fake, ch <-chan released, late time.Duration) released {
	for {
		waiting := make(chan struct{})
		go func() { clk.BlockUntil(1); close(waiting) }()
		select {
		case r := <-ch:
			t := clk.NewTimer(time.Hour) // lets the BlockUntil above return
			<-waiting
			t.Stop()
			return r
		case <-waiting:
			next, _ := clk.NextDeadline()
			clk.Set(next.Add(late))
		}
	}
}

// TestOneCallPerSecondUsesTheBudget: at 1 call/s with replies at once,
// calls are 1 s plus Margin apart, from the first: the whole budget but
// 0.1 %, never more. The first waits a full second, as if the previous
// process had just called.
func TestOneCallPerSecondUsesTheBudget(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(1, clk)
	prev := t0
	for i := range 5 {
		r := step(clk, release(p, clk), 0)
		if gap := r.at.Sub(prev); gap != time.Second+Margin {
			t.Fatalf("call %d: %v after the previous one, want %v", i, gap, time.Second+Margin)
		}
		r.done(r.at, r.at)
		prev = r.at
	}
	if d := p.Delay(); d != time.Second+Margin {
		t.Fatalf("Delay() = %v right after a call, want %v", d, time.Second+Margin)
	}
}

// TestLateReplyDelaysTheNextCall: a call whose reply came back late may
// have reached the server late, so the next one is spaced from when it
// arrived at the latest: the reply less the shortest round trip seen.
func TestLateReplyDelaysTheNextCall(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(1, clk)
	const rtt = 40 * time.Millisecond
	var r released
	for range minTrips { // normal round trips: the shortest seen
		r = step(clk, release(p, clk), 0)
		clk.Advance(rtt)
		r.done(r.at, clk.Now())
	}
	r = step(clk, release(p, clk), 0)
	sent := r.at
	clk.Advance(rtt + 300*time.Millisecond) // held up somewhere on the way
	r.done(sent, clk.Now())

	r2 := step(clk, release(p, clk), 0)
	want := sent.Add(300 * time.Millisecond).Add(time.Second + Margin)
	if r2.at.Before(want) {
		t.Fatalf("next call %v after the slow one was sent, want at least %v (it may have arrived 300 ms late)",
			r2.at.Sub(sent), want.Sub(sent))
	}
	if r2.at.After(want) {
		t.Fatalf("next call %v after the slow one was sent, want %v: budget wasted", r2.at.Sub(sent), want.Sub(sent))
	}
}

// TestFewTripsAreNotTrusted: right after a start, the first round trips
// need not include a fast one (here the first trip's request waited 30 ms
// at the server before it counted), so until minTrips were seen a call is
// taken to have arrived when its reply came back.
func TestFewTripsAreNotTrusted(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(1, clk)
	r := step(clk, release(p, clk), 0)
	clk.Advance(35 * time.Millisecond)
	replied := clk.Now()
	r.done(r.at, replied)
	r2 := step(clk, release(p, clk), 0)
	if want := replied.Add(time.Second + Margin); !r2.at.Equal(want) {
		t.Fatalf("second call %v after the first reply, want %v", r2.at.Sub(replied), want.Sub(replied))
	}
}

// TestShortestTripRisesSlowly: a slow spell does not raise the shortest
// trip (that would make the arrival bounds too early when the route gets
// fast again); only an hour without fast trips does.
func TestShortestTripRisesSlowly(t *testing.T) {
	var s shortestTrip
	now := t0
	for range minTrips {
		s.add(now, 5*time.Millisecond)
		now = now.Add(time.Second)
	}
	for range 50 * 60 { // 50 minutes of slow trips
		s.add(now, 200*time.Millisecond)
		now = now.Add(time.Second)
	}
	if got := s.get(now); got != 5*time.Millisecond {
		t.Fatalf("after a slow spell the shortest trip is %v, want 5ms", got)
	}
	for range 20 * 60 {
		s.add(now, 200*time.Millisecond)
		now = now.Add(time.Second)
	}
	if got := s.get(now); got != 200*time.Millisecond {
		t.Fatalf("after 70 minutes of slow trips the shortest trip is %v, want 200ms", got)
	}
}

// TestNoReplyCountsUntilGivenUp: a call that got no reply may have arrived
// at any time before it was given up.
func TestNoReplyCountsUntilGivenUp(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(1, clk)
	r := step(clk, release(p, clk), 0)
	clk.Advance(10 * time.Second) // the client's timeout
	gaveUp := clk.Now()
	r.done(r.at, time.Time{})
	r2 := step(clk, release(p, clk), 0)
	if want := gaveUp.Add(time.Second + Margin); !r2.at.Equal(want) {
		t.Fatalf("next call %v after giving up, want %v", r2.at.Sub(gaveUp), want.Sub(gaveUp))
	}
}

// TestUnsentCallDoesNotCount: a call that never left the process (the
// connection could not be made) does not hold the window: the next one
// waits only for the even spacing, 1/rate after it was let through, not
// for a window after its arrival.
func TestUnsentCallDoesNotCount(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(1, clk)
	r := step(clk, release(p, clk), 0)
	r.done(time.Time{}, time.Time{})
	r2 := step(clk, release(p, clk), 0)
	if gap := r2.at.Sub(r.at); gap >= time.Second+Margin || gap < 900*time.Millisecond {
		t.Fatalf("next call %v after an unsent one, want the bucket's spacing of about 1/rate (%v), not a window", gap, time.Second)
	}
}

// TestCallInFlightHoldsTheWindow: while a call has no outcome it may
// arrive at any moment, so the next call waits for the outcome, however
// long that takes, and then a full window.
func TestCallInFlightHoldsTheWindow(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(1, clk)
	r := step(clk, release(p, clk), 0)
	r.done(r.at, r.at) // a quick round trip
	r = step(clk, release(p, clk), 0)
	next := release(p, clk)
	clk.Advance(5 * time.Second)
	select {
	case r2 := <-next:
		t.Fatalf("a call was let through %v after one still in flight", r2.at.Sub(r.at))
	default:
	}
	r.done(r.at, clk.Now())
	done := clk.Now()
	if r2 := step(clk, next, 0); !r2.at.Equal(done.Add(time.Second + Margin)) {
		t.Fatalf("next call %v after the outcome, want %v", r2.at.Sub(done), time.Second+Margin)
	}
}

// TestWindowHoldsWithLateWakeUps: at 5 calls/s, callers woken up to 80 ms
// late still never put six calls inside one second (plus Margin), nor two
// calls closer than 90 % of 1/rate: a late call does not let the next one
// follow at once.
func TestWindowHoldsWithLateWakeUps(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(5, clk)
	rnd := rand.New(rand.NewPCG(1, 2))
	var at []time.Time
	for range 60 {
		r := step(clk, release(p, clk), time.Duration(rnd.Int64N(int64(80*time.Millisecond))))
		r.done(r.at, r.at)
		at = append(at, r.at)
	}
	checkLimit(t, at, 5)
}

// checkLimit fails t if the calls let through at the times in at (replies
// at once, so arrival is release) ever put more than the limit of a pacer
// of perSecond calls per second inside one window plus Margin, or two
// calls closer than 90 % of 1/perSecond.
func checkLimit(t *testing.T, at []time.Time, perSecond float64) {
	t.Helper()
	n, window := int(perSecond), time.Second
	if perSecond < 1 {
		n, window = 1, time.Duration(float64(time.Second)/perSecond)
	}
	for i := n; i < len(at); i++ {
		if span := at[i].Sub(at[i-n]); span < window+Margin {
			t.Fatalf("calls %d..%d span %v: %d calls inside one window of %v", i-n, i, span, n+1, window)
		}
	}
	minGap := time.Duration(float64(time.Second) / perSecond * 0.9)
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < minGap {
			t.Fatalf("calls %d and %d only %v apart at %v calls/s", i-1, i, gap, perSecond)
		}
	}
}

// TestCancelledWaitGivesItsSlotBack: a wait ended by its context does not
// use up the bucket's slot.
func TestCancelledWaitGivesItsSlotBack(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(4, clk) // the bucket's interval (250 ms) is shorter than the window
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := p.Wait(ctx); errc <- err }()
	clk.BlockUntil(1)
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("Wait returned nil after its context was cancelled")
	}
	// Four calls fit the window that New starts with (one second from t0);
	// had the cancelled wait kept its slot, they would be 250 ms later.
	var last time.Time
	for range 4 {
		r := step(clk, release(p, clk), 0)
		r.done(r.at, r.at)
		last = r.at
	}
	if want := t0.Add(time.Second + Margin + 750*time.Millisecond); last.After(want) {
		t.Fatalf("fourth call at %v after start, want by %v: the cancelled wait kept its slot", last.Sub(t0), want.Sub(t0))
	}
}

// TestConcurrentCallersRealClock: four callers sharing a pacer at 100/s on
// the real clock never put more than 100 calls in any second (by release
// time, replies at once).
func TestConcurrentCallersRealClock(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 1.5 s on the real clock")
	}
	p := New(100, clock.Real{})
	var mu sync.Mutex
	var at []time.Time
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 40 {
				done, err := p.Wait(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				now := time.Now()
				mu.Lock()
				at = append(at, now)
				mu.Unlock()
				done(now, now)
			}
		})
	}
	wg.Wait()
	slices.SortFunc(at, time.Time.Compare)
	for i := 100; i < len(at); i++ {
		if span := at[i].Sub(at[i-100]); span < time.Second {
			t.Fatalf("calls %d..%d span %v: 101 calls inside one second", i-100, i, span)
		}
	}
}

// TestWakeUpDelaysAreMadeUp: at 20 calls/s, callers that always wake up
// 1 ms late still get 99.5 % of the rate (1 ms lost per call would be 2 %):
// spacing counts from when a call was allowed to go, not from when it
// went. No two calls are closer than 90 % of an interval.
func TestWakeUpDelaysAreMadeUp(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(20, clk)
	var at []time.Time
	for range 401 {
		r := step(clk, release(p, clk), time.Millisecond)
		r.done(r.at, r.at)
		at = append(at, r.at)
	}
	if share := 400 / at[400].Sub(at[0]).Seconds() / 20; share < 0.995 {
		t.Fatalf("%.4f of the rate with 1 ms late wake-ups, want at least 0.995", share)
	}
	checkLimit(t, at, 20)
}

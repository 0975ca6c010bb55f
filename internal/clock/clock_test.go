package clock

import (
	"testing"
	"time"
)

func TestFakeFiresDueTimersInOrder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	late := f.NewTimer(2 * time.Second)
	early := f.NewTimer(time.Second)
	stopped := f.NewTimer(time.Second)
	if !stopped.Stop() || f.Waiters() != 2 {
		t.Fatalf("Stop: waiters = %d, want 2", f.Waiters())
	}
	if d, ok := f.NextDeadline(); !ok || !d.Equal(start.Add(time.Second)) {
		t.Fatalf("NextDeadline = %v %v", d, ok)
	}
	f.Advance(1500 * time.Millisecond)
	select {
	case at := <-early.C():
		if !at.Equal(start.Add(time.Second)) {
			t.Fatalf("fired with %v, want its deadline", at)
		}
	default:
		t.Fatal("a due timer did not fire")
	}
	select {
	case <-late.C():
		t.Fatal("a timer fired before its deadline")
	default:
	}
	f.Set(start) // never backwards
	if !f.Now().Equal(start.Add(1500 * time.Millisecond)) {
		t.Fatalf("Set moved the clock backwards to %v", f.Now())
	}
	done := make(chan struct{})
	go func() { f.BlockUntil(2); close(done) }()
	f.NewTimer(time.Hour)
	<-done // returns once two timers wait
	if f.NewTimer(0).C() == nil || len(f.After(0)) != 1 {
		t.Fatal("a zero timer must fire at once")
	}
}

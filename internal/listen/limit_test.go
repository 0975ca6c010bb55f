package listen

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// fakeListener hands out the connections put in conns and counts the
// Accept calls that reached it; each also signals on called.
type fakeListener struct {
	conns   chan net.Conn
	accepts atomic.Int32
	called  chan struct{}
	closed  chan struct{}
}

func newFakeListener(n int) *fakeListener {
	f := &fakeListener{conns: make(chan net.Conn, n), called: make(chan struct{}, 100), closed: make(chan struct{})}
	for range n {
		c, peer := net.Pipe()
		f.conns <- c
		_ = peer
	}
	return f
}

func (f *fakeListener) Accept() (net.Conn, error) {
	f.accepts.Add(1)
	select {
	case f.called <- struct{}{}:
	default:
	}
	select {
	case c := <-f.conns:
		return c, nil
	case <-f.closed:
		return nil, net.ErrClosed
	}
}

func (f *fakeListener) Close() error   { close(f.closed); return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

type acceptResult struct {
	c   net.Conn
	err error
}

func acceptAsync(l net.Listener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := l.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

// notWithin fails if ch delivers within a short while: the bounded wait
// that shows an Accept is blocked.
func notWithin(t *testing.T, ch <-chan acceptResult, what string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s: accepted %v, %v", what, r.c, r.err)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestLimitWaitsForASlot: with N connections open, the (N+1)-th is taken
// from the listener but not handed on until one of them closes, and no
// further one is taken meanwhile; closing a connection twice frees one
// slot, not two.
func TestLimitWaitsForASlot(t *testing.T) {
	inner := newFakeListener(4)
	l := newLimit(2).listener(inner)
	c1, err1 := l.Accept()
	c2, err2 := l.Accept()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	third := acceptAsync(l)
	notWithin(t, third, "third connection with two open")
	if n := inner.accepts.Load(); n != 3 {
		t.Fatalf("inner Accept called %d times, want 3: the cap's two and the one waiting for a slot", n)
	}
	c1.Close()
	c1.Close()
	r := <-third
	if r.err != nil {
		t.Fatal(r.err)
	}
	fourth := acceptAsync(l)
	notWithin(t, fourth, "fourth connection after closing one of three twice")
	c2.Close()
	if r := <-fourth; r.err != nil {
		t.Fatal(r.err)
	}
}

// TestLimitSharedByListeners: the cap is per server, not per address.
func TestLimitSharedByListeners(t *testing.T) {
	lim := newLimit(1)
	a, b := lim.listener(newFakeListener(1)), lim.listener(newFakeListener(1))
	c, err := a.Accept()
	if err != nil {
		t.Fatal(err)
	}
	other := acceptAsync(b)
	notWithin(t, other, "second listener with the one slot taken")
	c.Close()
	if r := <-other; r.err != nil {
		t.Fatal(r.err)
	}
}

// TestLimitIdleListenerHoldsNoSlot: a listener with nothing queued does
// not keep a slot from another listener's queued connection (taking the
// slot before the connection did: with two addresses, a connection on one
// waited, at the cap less one, until a connection on the other closed).
func TestLimitIdleListenerHoldsNoSlot(t *testing.T) {
	lim := newLimit(1)
	idle := newFakeListener(0)
	a, b := lim.listener(idle), lim.listener(newFakeListener(1))
	waiting := acceptAsync(a)
	<-idle.called // a waits in its listener's Accept
	select {
	case r := <-acceptAsync(b):
		if r.err != nil {
			t.Fatal(r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b's queued connection waits while a, with nothing queued, holds the only slot")
	}
	a.Close()
	if r := <-waiting; !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("a after Close: %v, %v", r.c, r.err)
	}
}

// TestLimitCloseWhileWaiting: closing the listener ends an Accept that
// waits for a slot, and a failed Accept gives its slot back.
func TestLimitCloseWhileWaiting(t *testing.T) {
	inner := newFakeListener(1)
	l := newLimit(1).listener(inner)
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	waiting := acceptAsync(l)
	notWithin(t, waiting, "with the one slot taken")
	l.Close()
	if r := <-waiting; !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, %v", r.c, r.err)
	}
	c.Close()
	// The inner listener is closed: its error frees the slot again.
	if _, err := l.(*limitListener).Listener.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("inner Accept: %v", err)
	}
	lim := newLimit(1)
	failing := lim.listener(inner)
	if _, err := failing.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept of a closed inner listener: %v", err)
	}
	if len(lim.slots) != 0 {
		t.Error("a failed Accept kept its slot")
	}
}

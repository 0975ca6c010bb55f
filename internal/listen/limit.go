package listen

import (
	"net"
	"sync"
)

// limit is a number of connection slots shared by a server's listeners:
// the cap is on the server, however many addresses it listens on.
type limit struct {
	slots chan struct{}
}

func newLimit(n int) *limit { return &limit{slots: make(chan struct{}, n)} }

// listener wraps l so that it accepts a connection only while a slot is
// free, and frees the slot when the connection closes.
func (lim *limit) listener(l net.Listener) net.Listener {
	return &limitListener{Listener: l, slots: lim.slots, done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{} // closed by Close: a waiting Accept gives up
	closeOnce sync.Once
}

// Accept takes a slot before it accepts, so a connection beyond the cap is
// not taken from the kernel's queue at all.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, slots: l.slots}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	slots       chan struct{}
	releaseOnce sync.Once
}

// Close frees the slot, once, however often it is called.
func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.releaseOnce.Do(func() { <-c.slots })
	return err
}

// CloseWrite passes through to the connection, so that net/http can still
// half-close it after an error reply (and the client reads the reply).
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

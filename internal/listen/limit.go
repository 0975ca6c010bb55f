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

// Accept takes a connection from the kernel's queue, then waits for a free
// slot before it hands the connection on. So each listener holds at most
// one connection beyond the cap. Taking the slot first would let a
// listener with nothing queued keep the last slot while another listener's
// queued connection waits for it: with two addresses, the connections of
// one of them could wait until a connection on the other closed.
func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	select {
	case l.slots <- struct{}{}:
		return &limitConn{Conn: c, slots: l.slots}, nil
	case <-l.done:
		c.Close()
		return nil, net.ErrClosed
	}
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

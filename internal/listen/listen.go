// Package listen opens the exporter's HTTP listeners with a cap on
// concurrent connections, and serves them through exporter-toolkit's
// web.Serve, so that TLS and basic auth from a web config file work exactly
// as with web.ListenAndServe.
//
// The toolkit opens its listeners itself and has no such cap: a client that
// holds thousands of idle connections open takes a descriptor for each, and
// once the process runs out, every file the exporter follows looks gone. With
// the cap, each address holds at most one connection beyond it, taken and
// waiting for a slot; the rest wait in the kernel's accept queue, holding no
// descriptor of the process, until one of the open ones closes (or the
// server's read-header and idle timeouts close it).
package listen

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/mdlayher/vsock"
	"github.com/prometheus/exporter-toolkit/web"
)

// Serve listens where flags say — each --web.listen-address (tcp, or
// vsock://:PORT), or systemd's sockets with --web.systemd-socket — and
// serves srv there, with at most maxConns connections open at a time across
// all of them. It returns when srv is shut down (http.ErrServerClosed), when
// a listener cannot be opened, or when the web config file is invalid.
func Serve(srv *http.Server, flags *web.FlagConfig, maxConns int, logger *slog.Logger) error {
	l, err := Open(flags, maxConns, logger)
	if err != nil {
		return err
	}
	return l.Serve(srv)
}

// Listeners are a server's listeners, open, sharing one connection cap.
type Listeners struct {
	ls     []net.Listener
	flags  *web.FlagConfig
	logger *slog.Logger
}

// Open opens the listeners flags name (see Serve), so that a caller learns
// at once whether it can listen, and where.
func Open(flags *web.FlagConfig, maxConns int, logger *slog.Logger) (*Listeners, error) {
	if maxConns < 1 {
		return nil, fmt.Errorf("maximum number of connections must be at least 1, got %d", maxConns)
	}
	listeners, err := open(flags, logger)
	if err != nil {
		return nil, err
	}
	lim := newLimit(maxConns)
	for i, l := range listeners {
		listeners[i] = lim.listener(l)
	}
	if n := openFilesLimit(); n > 0 && uint64(maxConns) > n/2 {
		logger.Warn("The connection cap is more than half the open-files limit: a flood of connections may leave none for the state file and followed logs.",
			"max_connections", maxConns, "open_files_limit", n)
	}
	logger.Info("Connections capped.", "max_connections", maxConns)
	return &Listeners{ls: listeners, flags: flags, logger: logger}, nil
}

// Addrs are where the listeners listen.
func (l *Listeners) Addrs() []net.Addr {
	out := make([]net.Addr, len(l.ls))
	for i, ln := range l.ls {
		out[i] = ln.Addr()
	}
	return out
}

// Serve serves srv on the listeners until srv is shut down.
func (l *Listeners) Serve(srv *http.Server) error {
	return web.ServeMultiple(l.ls, srv, l.flags, l.logger)
}

// Close closes listeners that will not be served.
func (l *Listeners) Close() {
	for _, ln := range l.ls {
		ln.Close()
	}
}

// open opens the listeners as web.ListenAndServe does.
func open(flags *web.FlagConfig, logger *slog.Logger) ([]net.Listener, error) {
	if flags == nil || flags.WebConfigFile == nil {
		return nil, web.ErrMissingFlag
	}
	if flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		logger.Info("Listening on systemd activated listeners instead of port listeners.")
		all, err := activation.Listeners()
		if err != nil {
			return nil, err
		}
		var listeners []net.Listener
		for _, l := range all {
			if l != nil { // a passed descriptor that is no stream socket
				listeners = append(listeners, l)
			}
		}
		if len(listeners) == 0 {
			return nil, errors.New("no socket activation file descriptors found")
		}
		return listeners, nil
	}
	if flags.WebListenAddresses == nil || len(*flags.WebListenAddresses) == 0 {
		return nil, web.ErrNoListeners
	}
	var listeners []net.Listener
	for _, address := range *flags.WebListenAddresses {
		l, err := listen(address)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return nil, err
		}
		listeners = append(listeners, l)
	}
	return listeners, nil
}

// listen opens one address: vsock://:PORT or a TCP address.
func listen(address string) (net.Listener, error) {
	if !strings.HasPrefix(address, "vsock://") {
		return net.Listen("tcp", address)
	}
	uri, err := url.Parse(address)
	if err != nil {
		return nil, err
	}
	_, portStr, err := net.SplitHostPort(uri.Host)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 32)
	if err != nil {
		return nil, err
	}
	return vsock.Listen(uint32(port), nil)
}

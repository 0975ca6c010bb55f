package listen

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
)

// addrHandler is a slog handler that reports the addresses web.Serve says
// it listens on: Serve opens the listeners itself, on port 0 here.
type addrHandler struct{ addrs chan string }

func (h addrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h addrHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h addrHandler) WithGroup(string) slog.Handler            { return h }
func (h addrHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "Listening on" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "address" {
				h.addrs <- a.Value.String()
			}
			return true
		})
	}
	return nil
}

// connTracker signals each connection the server accepts. (Counting open
// ones from ConnState would be off by one at times: net/http closes a
// connection, which frees its slot, before it reports StateClosed.)
type connTracker struct {
	accepted chan struct{}
}

func newConnTracker() *connTracker { return &connTracker{accepted: make(chan struct{}, 1000)} }

func (c *connTracker) state(_ net.Conn, s http.ConnState) {
	if s == http.StateNew {
		c.accepted <- struct{}{}
	}
}

// startServe runs Serve on addresses and returns the addresses it listens
// on; the server is shut down at the end of the test, and Serve must then
// return http.ErrServerClosed.
func startServe(t *testing.T, srv *http.Server, addresses []string, webConfig string, maxConns int) []string {
	t.Helper()
	h := addrHandler{addrs: make(chan string, len(addresses))}
	systemd := false
	flags := &web.FlagConfig{WebListenAddresses: &addresses, WebSystemdSocket: &systemd, WebConfigFile: &webConfig}
	done := make(chan error, 1)
	go func() { done <- Serve(srv, flags, maxConns, slog.New(h)) }()
	var got []string
	for range addresses {
		select {
		case a := <-h.addrs:
			got = append(got, a)
		case err := <-done:
			t.Fatalf("Serve: %v", err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return got
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
}

// waitAccepted waits until the server has accepted n more connections.
func waitAccepted(t *testing.T, c *connTracker, n int) {
	t.Helper()
	for range n {
		select {
		case <-c.accepted:
		case <-time.After(10 * time.Second):
			t.Fatal("the server did not accept a connection")
		}
	}
}

func notAccepted(t *testing.T, c *connTracker, what string) {
	t.Helper()
	select {
	case <-c.accepted:
		t.Fatalf("%s: accepted beyond the cap", what)
	case <-time.After(50 * time.Millisecond):
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestServeCap: with N connections open the server accepts no other, on
// any of its addresses, until one closes.
func TestServeCap(t *testing.T) {
	track := newConnTracker()
	srv := &http.Server{Handler: okHandler(), ReadHeaderTimeout: time.Minute, ConnState: track.state}
	addrs := startServe(t, srv, []string{"127.0.0.1:0", "127.0.0.1:0"}, "", 3)
	var held []net.Conn
	for i := range 3 {
		held = append(held, dial(t, addrs[i%2]))
	}
	waitAccepted(t, track, 3)
	waiting := dial(t, addrs[1])
	notAccepted(t, track, "a fourth connection with three open")
	held[0].Close()
	waitAccepted(t, track, 1)
	if _, err := io.WriteString(waiting, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(waiting)
	if err != nil || len(reply) < 12 || string(reply[:12]) != "HTTP/1.1 200" {
		t.Fatalf("the waiting connection got %q, %v", reply, err)
	}
}

// TestServeIdleFlood: a flood of idle connections takes no more server
// descriptors than the cap, and once the read-header timeout has closed
// them, requests are served again.
func TestServeIdleFlood(t *testing.T) {
	const maxConns, flood = 2, 20
	track := newConnTracker()
	srv := &http.Server{Handler: okHandler(), ReadHeaderTimeout: 50 * time.Millisecond, ConnState: track.state}
	addr := startServe(t, srv, []string{"127.0.0.1:0"}, "", maxConns)[0]
	before := countFDs(t)
	for range flood {
		dial(t, addr) // connects (the kernel queues it), sends nothing
	}
	waitAccepted(t, track, maxConns)
	if n := countFDs(t) - before; n > flood+maxConns+2 {
		t.Errorf("%d more descriptors for %d idle connections: the server holds more than the cap of %d", n, flood, maxConns)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("no service after the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d", resp.StatusCode)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(fds)
}

// TestServeWebConfig: TLS and basic auth from the web config file work as
// with web.ListenAndServe.
func TestServeWebConfig(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir)
	// bcrypt of "s3cret-pass" at the lowest cost, so the test stays fast.
	webConfig := filepath.Join(dir, "web.yml")
	writeFile(t, webConfig, "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"+
		"basic_auth_users:\n  alice: $2a$04$Ddgj3KwSGELKDWc6PiOGCuITZs2xQUpd7XFMoDCKWjZWd7Yqis1vu\n")
	srv := &http.Server{Handler: okHandler(), ReadHeaderTimeout: time.Minute}
	addr := startServe(t, srv, []string{"127.0.0.1:0"}, webConfig, 4)[0]
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the test's own certificate
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for _, tt := range []struct {
		user, pass string
		want       int
	}{{"", "", 401}, {"alice", "wrong", 401}, {"alice", "s3cret-pass", 200}} {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/", nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want || resp.TLS == nil {
			t.Errorf("user %q: got %d (TLS %v), want %d over TLS", tt.user, resp.StatusCode, resp.TLS != nil, tt.want)
		}
	}
}

func TestServeErrors(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	no, empty := false, ""
	addrs := func(a ...string) *[]string { return &a }
	for _, tt := range []struct {
		name     string
		flags    *web.FlagConfig
		maxConns int
		want     string
	}{
		{"no cap", &web.FlagConfig{WebListenAddresses: addrs("127.0.0.1:0"), WebSystemdSocket: &no, WebConfigFile: &empty}, 0,
			"maximum number of connections must be at least 1, got 0"},
		{"nil flags", nil, 1, web.ErrMissingFlag.Error()},
		{"no address", &web.FlagConfig{WebListenAddresses: addrs(), WebSystemdSocket: &no, WebConfigFile: &empty}, 1, web.ErrNoListeners.Error()},
		{"bad port", &web.FlagConfig{WebListenAddresses: addrs("127.0.0.1:0", "127.0.0.1:99999"), WebSystemdSocket: &no, WebConfigFile: &empty}, 1,
			"listen tcp: address 99999: invalid port"},
		{"bad vsock", &web.FlagConfig{WebListenAddresses: addrs("vsock://:x"), WebSystemdSocket: &no, WebConfigFile: &empty}, 1,
			`parse "vsock://:x": invalid port ":x" after host`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Serve(&http.Server{ReadHeaderTimeout: time.Second}, tt.flags, tt.maxConns, logger)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "missing.yml")
	err := Serve(&http.Server{ReadHeaderTimeout: time.Second},
		&web.FlagConfig{WebListenAddresses: addrs("127.0.0.1:0"), WebSystemdSocket: &no, WebConfigFile: &missing}, 1, logger)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing web config: got %v", err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 to dir.
func writeCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
}

package acceptance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exporter is the binary under test: one configuration and state directory,
// started, killed and restarted as often as a test wants. Its stdout and
// stderr from every run go to one log file, each run headed by a marker.
type exporter struct {
	t           *testing.T
	cfgPath     string
	storage     string
	metricsAddr string
	webhookAddr string // "" when the config has no webhook
	logPath     string
	runs        int

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current run's process has exited
	waitErr error         // valid once exited is closed
}

// newExporter returns an exporter that is not running yet. When the test
// ends it is killed if still running, its log is searched for data races
// and panics, and on failure the log's tail is printed.
func newExporter(t *testing.T, cfgPath, storage, metricsAddr, webhookAddr, logPath string) *exporter {
	t.Helper()
	e := &exporter{t: t, cfgPath: cfgPath, storage: storage, metricsAddr: metricsAddr, webhookAddr: webhookAddr, logPath: logPath}
	t.Cleanup(func() {
		if e.running() {
			e.cmd.Process.Kill()
			<-e.exited
		}
		log, _ := os.ReadFile(e.logPath)
		for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
			if bytes.Contains(log, []byte(bad)) {
				t.Errorf("the exporter's log contains %q", bad)
			}
		}
		if t.Failed() {
			t.Logf("exporter log (%s), last lines:\n%s", e.logPath, tail(log, 80))
		}
	})
	return e
}

// args are the command line flags of every run.
func (e *exporter) args() []string {
	return []string{
		"--config.file=" + e.cfgPath,
		"--storage.path=" + e.storage,
		"--web.listen-address=" + e.metricsAddr,
		"--storage.checkpoint-interval=1s",
	}
}

// start starts a run without waiting for it to be ready.
func (e *exporter) start() {
	e.t.Helper()
	if e.running() {
		e.t.Fatal("start: the exporter is already running")
	}
	e.runs++
	logf, err := os.OpenFile(e.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		e.t.Fatal(err)
	}
	defer logf.Close() // the child has its own descriptor
	fmt.Fprintf(logf, "===== run %d, %s\n", e.runs, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(binary, e.args()...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start the exporter: %v", err)
	}
	e.cmd, e.exited = cmd, make(chan struct{})
	exited := e.exited
	go func() {
		e.waitErr = cmd.Wait()
		close(exited)
	}()
}

// running reports whether the current run's process is alive.
func (e *exporter) running() bool {
	if e.cmd == nil {
		return false
	}
	select {
	case <-e.exited:
		return false
	default:
		return true
	}
}

// startReady starts a run and waits until both listeners answer.
func (e *exporter) startReady() {
	e.t.Helper()
	e.start()
	e.waitReady(20 * time.Second)
}

// waitReady polls /-/ready on the metrics listener and /-/healthy on the
// webhook listener (external process: polling with a short interval).
func (e *exporter) waitReady(timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	ok := func(url string) bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	for {
		select {
		case <-e.exited:
			e.t.Fatalf("the exporter exited while starting: %v", e.waitErr)
		default:
		}
		if ok("http://"+e.metricsAddr+"/-/ready") && (e.webhookAddr == "" || ok("http://"+e.webhookAddr+"/-/healthy")) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the exporter was not ready within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (e *exporter) kill() {
	e.t.Helper()
	if !e.running() {
		e.t.Fatal("kill: the exporter is not running")
	}
	if err := e.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		e.t.Fatalf("SIGKILL: %v", err)
	}
	<-e.exited
}

// stop sends SIGTERM and requires a clean exit (status 0) within 5 s.
func (e *exporter) stop() {
	e.t.Helper()
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		e.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-e.exited:
		if e.waitErr != nil {
			e.t.Errorf("after SIGTERM the exporter exited with %v, want status 0", e.waitErr)
		}
	case <-time.After(5 * time.Second):
		e.t.Errorf("the exporter did not exit within 5 s of SIGTERM")
		e.cmd.Process.Kill()
		<-e.exited
	}
}

// log returns everything the exporter logged so far, all runs.
func (e *exporter) log() string {
	b, err := os.ReadFile(e.logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// tail returns the last n lines of b, long lines shortened.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 400 {
			lines[i] = l[:400] + "…"
		}
	}
	return strings.Join(lines, "\n")
}

// errExited reports an exporter process that is gone while a test waits on it.
var errExited = errors.New("the exporter exited")

// await polls cond (which talks to the external process) every interval
// until it returns true, the process exits or ctx ends.
func (e *exporter) await(ctx context.Context, interval time.Duration, cond func() bool) error {
	for {
		if cond() {
			return nil
		}
		select {
		case <-e.exited:
			return fmt.Errorf("%w: %v", errExited, e.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

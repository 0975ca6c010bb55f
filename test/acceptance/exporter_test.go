package acceptance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/exportertest"
)

// exporter is the binary under test: one configuration and state directory,
// started, killed and restarted as often as a test wants. Every run listens
// on ports the kernel picks (port 0) and says which in its log; the
// addresses of the current run are kept for the goroutines that feed and
// scrape it.
type exporter struct {
	t          *testing.T
	cfgPath    string
	storage    string
	hasWebhook bool
	runs       []*exportertest.Process // the last is the current run

	mu      sync.Mutex
	metrics string // the current run's listeners, "" until it is ready
	webhook string
}

// newExporter returns an exporter that is not running yet.
func newExporter(t *testing.T, cfgPath, storage string, hasWebhook bool) *exporter {
	return &exporter{t: t, cfgPath: cfgPath, storage: storage, hasWebhook: hasWebhook}
}

// args are the command line flags of every run.
func (e *exporter) args() []string {
	return []string{
		"--config.file=" + e.cfgPath,
		"--storage.path=" + e.storage,
		"--web.listen-address=127.0.0.1:0",
		"--storage.checkpoint-interval=1s",
	}
}

// start starts a run without waiting for it to be ready.
func (e *exporter) start() {
	e.t.Helper()
	if e.running() {
		e.t.Fatal("start: the exporter is already running")
	}
	e.runs = append(e.runs, exportertest.Start(e.t, exportertest.Binary(e.t), e.args()...))
}

// current is the current (or last) run.
func (e *exporter) current() *exportertest.Process {
	e.t.Helper()
	if len(e.runs) == 0 {
		e.t.Fatal("the exporter was never started")
	}
	return e.runs[len(e.runs)-1]
}

// running reports whether the current run's process is alive.
func (e *exporter) running() bool {
	return len(e.runs) > 0 && !e.current().Ended()
}

// startReady starts a run and waits until both listeners answer.
func (e *exporter) startReady() {
	e.t.Helper()
	e.start()
	e.waitReady(20 * time.Second)
}

// waitReady reads the run's listen addresses from its log, then waits for
// /-/ready on the metrics listener and /-/healthy on the webhook listener.
func (e *exporter) waitReady(timeout time.Duration) {
	e.t.Helper()
	p := e.current()
	metrics := p.Addr("metrics", timeout)
	p.WaitHTTP("http://"+metrics+"/-/ready", timeout)
	var webhook string
	if e.hasWebhook {
		webhook = p.Addr("webhook", timeout)
		p.WaitHTTP("http://"+webhook+"/-/healthy", timeout)
	}
	e.mu.Lock()
	e.metrics, e.webhook = metrics, webhook
	e.mu.Unlock()
}

// metricsAddr and webhookAddr are the current run's listeners; "" while it
// is down or starting, so a request then fails rather than reach a port
// another process may have taken since.
func (e *exporter) metricsAddr() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.metrics
}

func (e *exporter) webhookAddr() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.webhook
}

func (e *exporter) forgetAddrs() {
	e.mu.Lock()
	e.metrics, e.webhook = "", ""
	e.mu.Unlock()
}

// kill sends SIGKILL and waits for the process to be gone.
func (e *exporter) kill() {
	e.t.Helper()
	if !e.running() {
		e.t.Fatal("kill: the exporter is not running")
	}
	e.forgetAddrs()
	e.current().Kill()
}

// stop sends SIGTERM and requires a clean exit (status 0) within 5 s.
func (e *exporter) stop() {
	e.t.Helper()
	e.forgetAddrs()
	e.current().Stop(5 * time.Second)
}

// log returns everything the exporter logged so far, all runs, each headed
// by a marker.
func (e *exporter) log() string {
	var b strings.Builder
	for i, p := range e.runs {
		fmt.Fprintf(&b, "===== run %d\n%s", i+1, p.Output())
	}
	return b.String()
}

// errExited reports an exporter process that is gone while a test waits on it.
var errExited = errors.New("the exporter exited")

// await polls cond (which talks to the external process) every interval
// until it returns true, the current run exits or ctx ends.
func (e *exporter) await(ctx context.Context, interval time.Duration, cond func() bool) error {
	p := e.current()
	for {
		if cond() {
			return nil
		}
		select {
		case <-p.Exited():
			return fmt.Errorf("%w: %v", errExited, p.Err())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// Package scheduler decides which trace query each app makes next and
// makes it: one worker per app, one call at a time, paced by the app's
// client (its pacer). It asks the ledger what is due, scores it by the new
// stage outcomes it is expected to reveal (policy.go), backs off on errors
// and pauses an app the API rejects, chooses the sample ratio when it is
// automatic, and runs the checkpoint loop. All state it must not lose lives
// in the ledger; what it keeps (what it learnt, back-off, the ratio) is
// relearnt in minutes after a restart.
package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Tracer queries the trace of one push. *timapi.Client implements it.
type Tracer interface {
	Trace(ctx context.Context, pushID string) (*timapi.Trace, error)
}

// App is one configured app as the scheduler needs it.
type App struct {
	Name        string
	SampleRatio float64 // used when AutoSample is false
	AutoSample  bool    // the ratio follows the incoming rate (sample_ratio: auto)
	RateLimit   float64 // calls per second; pacing itself is the Tracer's
	Tracer      Tracer
	Ledger      ledger.AppConfig
}

// Options configure a Scheduler.
type Options struct {
	Clock              clock.Clock
	Logger             log.Logger
	CheckpointInterval time.Duration // default 1s
	MaxFailures        int           // failed query rounds before a PushID is dropped; default 10
	// OnCheckpoint, if set, is told the outcome of every checkpoint of the
	// loop (nil: saved).
	OnCheckpoint func(error)
	// OwedClicks schedules as versions before the yield-based policy did,
	// for comparisons (the fidelity harness's "before"): every requery is
	// made while any stage, clicks included, is unreported, older work
	// first, and every call counts in the cost of a sampled push.
	OwedClicks bool
}

// Scheduler runs the apps' workers. It implements ledger.Sampler.
type Scheduler struct {
	opts    Options
	clock   clock.Clock
	logger  log.Logger
	ledger  *ledger.Ledger
	metrics *metrics

	mu      sync.Mutex
	workers map[string]*worker
	runCtx  context.Context // set while Run runs
	wg      sync.WaitGroup
}

// New returns a scheduler for l and makes it l's sampler. Register
// Collectors with a prometheus.Registerer.
func New(l *ledger.Ledger, o Options) *Scheduler {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = time.Second
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 10
	}
	s := &Scheduler{opts: o, clock: o.Clock, logger: o.Logger, ledger: l, metrics: newMetrics(), workers: map[string]*worker{}}
	l.SetSampler(s)
	return s
}

// Collectors are the scheduler's metrics.
func (s *Scheduler) Collectors() []prometheus.Collector { return s.metrics.collectors() }

// SetApps installs the configured apps in the ledger and here: new apps
// get a worker (started if Run runs), changed ones take the new settings,
// removed ones stop, and SetApps waits until their worker has returned.
func (s *Scheduler) SetApps(apps []App) {
	cfgs := make([]ledger.AppConfig, len(apps))
	for i, a := range apps {
		cfgs[i] = a.Ledger
		cfgs[i].Name = a.Name
	}
	keep := map[string]bool{}
	for _, a := range apps {
		keep[a.Name] = true
	}
	s.mu.Lock()
	var stopped []*worker
	for name, w := range s.workers {
		if !keep[name] {
			delete(s.workers, name)
			stopped = append(stopped, w)
		}
	}
	s.mu.Unlock()
	// A removed app's worker has returned before the ledger forgets the
	// app, and a new app's book exists before its worker asks what is due.
	for _, w := range stopped {
		w.stop()
	}
	s.ledger.SetApps(cfgs)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range apps {
		if w, ok := s.workers[a.Name]; ok {
			w.set(a)
			continue
		}
		w := newWorker(s, a)
		s.workers[a.Name] = w
		s.metrics.init(a.Name)
		if s.runCtx != nil {
			s.startLocked(w)
		}
	}
}

// Ratio implements ledger.Sampler.
func (s *Scheduler) Ratio(app string, arrivals int) (float64, bool) {
	s.mu.Lock()
	w := s.workers[app]
	s.mu.Unlock()
	if w == nil {
		return 0, false
	}
	return w.ratio(arrivals), true
}

// State is what /metrics shows of an app's worker.
type State struct {
	Up          bool    // the API accepts the app's configuration
	RateLimit   float64 // configured
	SampleRatio float64 // in force
}

// States returns every app's state.
func (s *Scheduler) States() map[string]State {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]State, len(s.workers))
	for name, w := range s.workers {
		out[name] = w.state()
	}
	return out
}

// Run runs the workers and the checkpoint loop until ctx ends, then stops
// the workers (a call in flight is cancelled; its PushID stays pending) and
// saves a final checkpoint, whose error it returns.
func (s *Scheduler) Run(ctx context.Context) error {
	workCtx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.runCtx = workCtx
	for _, w := range s.workers {
		s.startLocked(w)
	}
	s.mu.Unlock()

	s.checkpointLoop(ctx)
	cancel()
	s.mu.Lock()
	s.runCtx = nil
	s.mu.Unlock()
	s.wg.Wait()
	if err := s.ledger.Checkpoint(); err != nil {
		return fmt.Errorf("final checkpoint: %w", err)
	}
	return nil
}

func (s *Scheduler) startLocked(w *worker) {
	ctx, cancel := context.WithCancel(s.runCtx)
	done := make(chan struct{})
	w.setRunning(cancel, done)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(done)
		w.run(ctx)
	}()
}

// checkpointLoop saves a checkpoint every interval, or at once when a
// webhook waits for one (requests waiting together share one commit), and
// retunes the automatic sample ratios.
func (s *Scheduler) checkpointLoop(ctx context.Context) {
	for {
		t := s.clock.NewTimer(s.opts.CheckpointInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		case <-s.ledger.FlushRequested():
			t.Stop()
		}
		s.tune()
		err := s.ledger.Checkpoint()
		if err != nil {
			level.Error(s.logger).Log("msg", "saving state failed; will retry", "err", err)
		}
		if s.opts.OnCheckpoint != nil {
			s.opts.OnCheckpoint(err)
		}
	}
}

// tune retunes every automatic sample ratio that is due.
func (s *Scheduler) tune() {
	s.mu.Lock()
	ws := make([]*worker, 0, len(s.workers))
	for _, w := range s.workers {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	now := s.clock.Now()
	for _, w := range ws {
		w.tune(now)
	}
}

// Step makes app's next call, if one is due, in the caller's goroutine, and
// returns when the app's next call could be made (zero: no work pending).
// It is for a driver that runs the scheduler in simulated time instead of
// Run (the fidelity harness); the worker's own loop is the same step.
func (s *Scheduler) Step(ctx context.Context, app string) (next time.Time, called bool) {
	s.mu.Lock()
	w := s.workers[app]
	s.mu.Unlock()
	if w == nil {
		return time.Time{}, false
	}
	return w.step(ctx)
}

// Tune retunes the automatic sample ratios now (for Step's driver).
func (s *Scheduler) Tune() { s.tune() }

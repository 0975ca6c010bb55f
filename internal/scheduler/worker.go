package scheduler

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

const (
	// pauseMin and pauseMax bound the pause after a configuration error
	// (wrong key, region, admin…) or replies of a shape we cannot read: the
	// app is retried with doubling pauses, so that fixing the config or the
	// console takes effect within five minutes, without hammering the API.
	pauseMin = 10 * time.Second
	pauseMax = 5 * time.Minute
	// errorRetryBase is the delay before a PushID whose query failed (after
	// the client's own retries) is tried again; it doubles per failure.
	errorRetryBase = 30 * time.Second
	// unexpectedPause is how many replies of an unexpected shape in a row
	// pause the app: one may be a glitch, a run of them a changed API.
	unexpectedPause = 5
)

// worker is one app's query loop. Its fields under mu are read by other
// goroutines; the rest belong to whoever runs step (the loop, or Step).
type worker struct {
	s    *Scheduler
	name string

	mu     sync.Mutex
	cfg    App
	up     bool
	auto   *autoSampler // nil unless the app samples automatically
	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{} // the configuration changed

	learn       *learner
	pause       time.Duration
	pausedUntil time.Time
	unexpected  int // replies of an unexpected shape in a row
}

func newWorker(s *Scheduler, a App) *worker {
	w := &worker{s: s, name: a.Name, up: true, kick: make(chan struct{}, 1),
		learn: newLearner(len(a.Ledger.RequeryAfter), s.clock.Now(), s.opts.OwedClicks)}
	w.set(a)
	return w
}

// set installs a (re)configuration.
func (w *worker) set(a App) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cfg = a
	switch {
	case a.AutoSample && w.auto == nil:
		w.auto = newAutoSampler(w.s.clock.Now())
	case !a.AutoSample:
		w.auto = nil
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *worker) config() (App, *autoSampler) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cfg, w.auto
}

func (w *worker) setRunning(cancel context.CancelFunc, done chan struct{}) {
	w.mu.Lock()
	w.cancel, w.done = cancel, done
	w.mu.Unlock()
}

// stop cancels a running loop and waits for it to return.
func (w *worker) stop() {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (w *worker) state() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := State{Up: w.up, RateLimit: w.cfg.RateLimit, SampleRatio: w.cfg.SampleRatio}
	if w.auto != nil {
		st.SampleRatio = w.auto.get()
	}
	return st
}

// ratio is the sample ratio in force, arrivals counted (see autoSampler).
func (w *worker) ratio(arrivals int) float64 {
	cfg, auto := w.config()
	if auto == nil {
		return cfg.SampleRatio
	}
	return auto.arrive(arrivals, w.s.clock.Now(), cfg.RateLimit, func() int { return w.s.ledger.Backlog(w.name) })
}

func (w *worker) tune(now time.Time) {
	cfg, auto := w.config()
	if auto != nil {
		fresh, dup := w.s.ledger.Taken(w.name)
		auto.tune(now, cfg.RateLimit, w.s.ledger.Backlog(w.name), fresh, dup)
	}
}

// run is the worker's loop: a step, then a wait until the next work is
// due, new work arrives or the configuration changes. The Tracer's pacer
// spaces the calls.
func (w *worker) run(ctx context.Context) {
	for {
		next, called := w.step(ctx)
		if ctx.Err() != nil {
			return
		}
		now := w.s.clock.Now()
		if called && !next.After(now) {
			continue
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = next.Sub(now)
		}
		if !w.sleep(ctx, wait) {
			return
		}
	}
}

// sleep waits d, new work, a reconfiguration, or the end of ctx (false).
func (w *worker) sleep(ctx context.Context, d time.Duration) bool {
	t := w.s.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
	case <-w.s.ledger.Wake(w.name):
	case <-w.kick:
	case <-ctx.Done():
		return false
	}
	return true
}

// step makes the next call, if one is due and the app is not paused, and
// returns when the next one could be made (zero: nothing pending).
func (w *worker) step(ctx context.Context) (time.Time, bool) {
	now := w.s.clock.Now()
	if now.Before(w.pausedUntil) {
		return w.pausedUntil, false
	}
	cfg, auto := w.config()
	w.learn.resize(len(cfg.Ledger.RequeryAfter))
	work, ok, next := w.s.ledger.Next(w.name, now, w.learn)
	if !ok {
		return next, false
	}
	purpose := timapi.PurposeFirst
	if work.Step > 0 {
		purpose = timapi.PurposeRequery
	}
	if auto != nil && (work.Step == 0 || work.Displacing || w.s.opts.OwedClicks) {
		auto.called()
	}
	tr, err := cfg.Tracer.Trace(timapi.WithPurpose(ctx, purpose), work.PushID)
	w.handle(ctx, work, purpose, tr, err)
	if w.pausedUntil.After(now) {
		return w.pausedUntil, true
	}
	return now, true
}

// handle applies the outcome of one query.
func (w *worker) handle(ctx context.Context, work ledger.Work, purpose timapi.Purpose, tr *timapi.Trace, err error) {
	m, l, now := w.s.metrics, w.s.ledger, w.s.clock.Now()
	if err == nil {
		m.queries.WithLabelValues(w.name, "ok").Inc()
		w.setUp(true, "")
		w.pause, w.unexpected = 0, 0
		res := l.Done(work, tr)
		w.learn.learn(now, work.Step, res)
		m.outcomes.WithLabelValues(w.name, string(purpose)).Add(float64(res.New))
		if res.New > 0 {
			m.yielding.WithLabelValues(w.name, string(purpose)).Inc()
		}
		if _, auto := w.config(); auto != nil && work.Step == 0 {
			auto.firstDone()
		}
		return
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		l.Requeue(work) // shutting down: the PushID stays pending and is saved
		return
	}
	var apiErr *timapi.Error
	class := timapi.ClassTransient
	if errors.As(err, &apiErr) {
		class = apiErr.Class
	}
	switch class {
	case timapi.ClassConfig:
		m.queries.WithLabelValues(w.name, "config_error").Inc()
		w.setUp(false, "the API rejects this app's configuration; pausing its queries and keeping every pending PushID", "err", err, "check", hint(apiErr))
		l.Requeue(work)
		w.pauseFor(now)
	case timapi.ClassBadRequest, timapi.ClassDecode:
		m.queries.WithLabelValues(w.name, "dropped").Inc()
		level.Warn(w.s.logger).Log("msg", "dropping a PushID the API rejects", "app", w.name, "push_id", work.PushID, "err", err)
		l.Drop(work, "rejected")
	case timapi.ClassUnexpectedReply:
		m.queries.WithLabelValues(w.name, "unexpected_reply").Inc()
		w.unexpected++
		w.retry(work, now, err, "unexpected_reply")
		if w.unexpected >= unexpectedPause {
			w.setUp(false, "the API's replies do not have the documented shape; pausing this app's queries and keeping every pending PushID", "err", err)
			w.pauseFor(now)
		}
	default:
		m.queries.WithLabelValues(w.name, "error").Inc()
		w.retry(work, now, err, "errors")
	}
}

// retry puts work back with back-off, or gives it up after MaxFailures
// rounds, counted under reason.
func (w *worker) retry(work ledger.Work, now time.Time, err error, reason string) {
	if work.Failures+1 >= w.s.opts.MaxFailures {
		level.Warn(w.s.logger).Log("msg", "giving up on a PushID after repeated errors", "app", w.name, "push_id", work.PushID, "err", err)
		w.s.ledger.Drop(work, reason)
		return
	}
	level.Debug(w.s.logger).Log("msg", "trace query failed; will retry", "app", w.name, "push_id", work.PushID, "err", err)
	w.s.ledger.Retry(work, now.Add(errorRetryBase<<min(work.Failures, 6)))
}

// pauseFor pauses the app's queries, doubling the pause each time.
func (w *worker) pauseFor(now time.Time) {
	w.pause = min(max(2*w.pause, pauseMin), pauseMax)
	w.pausedUntil = now.Add(w.pause)
}

// setUp records whether the app works, logging the change (with kv when
// it stops working).
func (w *worker) setUp(up bool, msg string, kv ...any) {
	w.mu.Lock()
	was := w.up
	w.up = up
	w.mu.Unlock()
	switch {
	case up && !was:
		level.Info(w.s.logger).Log("msg", "trace queries work again", "app", w.name)
	case !up && was:
		level.Error(w.s.logger).Log(append([]any{"msg", msg, "app", w.name}, kv...)...)
	}
}

func hint(e *timapi.Error) string {
	if e == nil {
		return ""
	}
	return e.Hint()
}

package collector

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

const (
	// configPauseMin and configPauseMax bound the pause after a
	// configuration error (wrong key, region, admin...): the app is retried
	// with doubling pauses so that fixing the config or the console takes
	// effect within five minutes, without hammering the API meanwhile.
	configPauseMin = 10 * time.Second
	configPauseMax = 5 * time.Minute
	// errorRetryBase is the delay before a PushID whose query failed (after
	// the client's own retries) is tried again; it doubles per failure.
	errorRetryBase = 30 * time.Second
)

// work is an app's query loop: one call at a time, freshest due PushID
// first. The Tracer's rate limiter paces the calls.
func (c *Collector) work(ctx context.Context, st *appState) {
	pause := time.Duration(0)
	for {
		if pause > 0 {
			if !c.sleep(ctx, pause, nil) {
				return
			}
		}
		c.mu.Lock()
		now := c.clock.Now()
		e, nextDue := st.queue.next(now)
		tracer := st.cfg.Tracer
		purpose := timapi.PurposeFirst // the API's call counts by purpose
		if e != nil && e.step > 0 {
			purpose = timapi.PurposeRequery
		}
		c.mu.Unlock()
		if e == nil {
			var wait time.Duration = time.Hour
			if !nextDue.IsZero() {
				wait = nextDue.Sub(now)
			}
			if !c.sleep(ctx, wait, st.wake) {
				return
			}
			continue
		}
		if now.UnixNano()-e.seen > int64(retention) {
			c.mu.Lock()
			c.dropLocked(st, e, "expired")
			c.mu.Unlock()
			continue
		}
		tr, err := tracer.Trace(timapi.WithPurpose(ctx, purpose), e.pushID)
		pause = c.handle(ctx, st, e, tr, err, pause)
		if ctx.Err() != nil {
			return
		}
	}
}

// sleep waits d, a wake-up, or the end of ctx (then it returns false).
func (c *Collector) sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
	case <-wake:
	case <-ctx.Done():
		return false
	}
	return true
}

// handle applies the outcome of one query and returns the pause before the
// app's next query.
func (c *Collector) handle(ctx context.Context, st *appState, e *entry, tr *timapi.Trace, err error, pause time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	app := st.cfg.Name
	if _, still := st.queue.entries[e.pushID]; !still {
		return 0 // dropped meanwhile (app removed)
	}
	if st.auto != nil && ctx.Err() == nil {
		st.auto.called()
	}
	if err == nil {
		c.self.queries.WithLabelValues(app, "ok").Inc()
		if !st.up {
			level.Info(c.logger).Log("msg", "trace queries work again", "app", app)
		}
		st.up = true
		complete := c.countLocked(st, e, tr)
		e.failures = 0
		step := int(e.step)
		more := c.advanceLocked(st, e, complete)
		if st.auto != nil {
			st.auto.queried(step, more)
		}
		return 0
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// Shutting down: the PushID stays pending and is saved.
		st.queue.schedule(e)
		return 0
	}
	var apiErr *timapi.Error
	class := timapi.ClassTransient
	if errors.As(err, &apiErr) {
		class = apiErr.Class
	}
	switch class {
	case timapi.ClassConfig:
		c.self.queries.WithLabelValues(app, "config_error").Inc()
		if st.up {
			level.Error(c.logger).Log("msg", "the API rejects this app's configuration; pausing its queries and keeping every pending PushID",
				"app", app, "err", err, "check", hint(apiErr))
		}
		st.up = false
		st.queue.schedule(e)
		if pause == 0 {
			return configPauseMin
		}
		return min(2*pause, configPauseMax)
	case timapi.ClassBadRequest, timapi.ClassDecode:
		c.self.queries.WithLabelValues(app, "dropped").Inc()
		level.Warn(c.logger).Log("msg", "dropping a PushID the API rejects", "app", app, "push_id", e.pushID, "err", err)
		c.dropLocked(st, e, "rejected")
		return 0
	default: // transient, rate limited, and (for now) ClassUnexpectedReply: the PushID is kept
		c.self.queries.WithLabelValues(app, "error").Inc()
		e.failures++
		if int(e.failures) >= c.opts.MaxFailures {
			level.Warn(c.logger).Log("msg", "giving up on a PushID after repeated errors", "app", app, "push_id", e.pushID, "err", err)
			c.dropLocked(st, e, "errors")
			return 0
		}
		level.Debug(c.logger).Log("msg", "trace query failed; will retry", "app", app, "push_id", e.pushID, "err", err)
		e.due = c.clock.Now().Add(errorRetryBase << min(e.failures-1, 6)).UnixNano()
		st.queue.schedule(e)
		c.markDirty(st, e)
		return 0
	}
}

func hint(e *timapi.Error) string {
	if e == nil {
		return ""
	}
	return e.Hint()
}

// advanceLocked schedules the next requery, or finishes the push when
// nothing is missing or no requery is left. Requery offsets that have
// already passed (the first query ran late because of a backlog) are
// skipped rather than run back to back. It reports whether a requery was
// scheduled.
func (c *Collector) advanceLocked(st *appState, e *entry, complete bool) bool {
	now := c.clock.Now().UnixNano()
	if !complete {
		// entry.step is a uint16: a 65,536th requery offset is never used.
		for i := int(e.step); i < min(len(st.cfg.RequeryAfter), math.MaxUint16); i++ {
			due := e.seen + int64(st.cfg.RequeryAfter[i])
			if due >= now {
				e.step = uint16(i + 1)
				e.due = due
				st.queue.schedule(e)
				c.markDirty(st, e)
				return true
			}
		}
	}
	c.finishLocked(st, e)
	return false
}

// dropLocked forgets a pending PushID and counts why.
func (c *Collector) dropLocked(st *appState, e *entry, reason string) {
	c.series.add(seriesKey{metric: mDropped, app: st.cfg.Name, extra: reason}, 1)
	st.queue.remove(e)
	c.markDeleted(st, e)
}

// finishLocked forgets a PushID that is done; it stays in the dedup set.
func (c *Collector) finishLocked(st *appState, e *entry) {
	c.countUnreportedLocked(st, e)
	st.queue.remove(e)
	c.markDeleted(st, e)
}

package simulator

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

// Defaults of CallbackConfig. Tencent documents that it retries callbacks,
// not how soon nor how often: these are stand-ins.
const (
	DefaultCallbackRetryAfter  = 10 * time.Second
	DefaultCallbackMaxAttempts = 10
	defaultCallbackTimeout     = 10 * time.Second
)

// CallbackConfig configures a CallbackSender.
type CallbackConfig struct {
	URL      string // the app's callback URL, e.g. "http://127.0.0.1:9115/webhook/tencent"
	SDKAppID int64  // the SdkAppid every POST carries
	// Token is the callback authentication token; "" sends no RequestTime
	// and Sign. It never appears in an error or in Stats.
	Token  string
	Client *http.Client // nil: a client with a 10 s timeout
	// RetryAfter is how long after a failed POST its events are posted
	// again; zero means DefaultCallbackRetryAfter.
	RetryAfter time.Duration
	// MaxAttempts is how many failed POSTs an event survives before it is
	// dropped (and counted in Stats.Dropped); zero means
	// DefaultCallbackMaxAttempts.
	MaxAttempts int
}

// CallbackStats counts what a CallbackSender did.
type CallbackStats struct {
	Posts     int // POSTs made
	Failures  int // POSTs that failed: no reply, or an HTTP status other than 2xx
	Delivered int // events in successful POSTs (a redelivered copy counts again)
	Dropped   int // events given up after MaxAttempts failed POSTs
	Pending   int // events waiting to be posted
}

// CallbackSender posts push result events to an app's callback URL as
// Tencent does: each event once it is due (PushEvent.DeliverAt, on the
// simulator's Clock), in batches of up to MaxCallbackEvents, a failed POST
// being tried again later. Add and AddPush queue events; Run posts them as
// they fall due, or SendDue posts what is due now (for callers that step
// a fake clock themselves). Its methods are safe for concurrent use.
//
// The reply body is ignored, as Tencent ignores the replies to its
// after-event callbacks: any 2xx status is a delivery.
type CallbackSender struct {
	sim    *Simulator
	clock  clock.Clock
	cfg    CallbackConfig
	wake   chan struct{} // an Add happened
	sendMu sync.Mutex    // one SendDue at a time

	mu    sync.Mutex
	queue eventQueue
	seq   uint64
	stats CallbackStats
}

// NewCallbackSender returns a sender of this simulator's events on its
// Clock. Nothing is posted until Run or SendDue is called.
func (s *Simulator) NewCallbackSender(cfg CallbackConfig) *CallbackSender {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: defaultCallbackTimeout}
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultCallbackRetryAfter
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultCallbackMaxAttempts
	}
	return &CallbackSender{sim: s, clock: s.clock, cfg: cfg, wake: make(chan struct{}, 1)}
}

// Add queues events, each to be posted at its DeliverAt.
func (c *CallbackSender) Add(events ...PushEvent) {
	if len(events) == 0 {
		return
	}
	c.mu.Lock()
	for _, e := range events {
		c.seq++
		heap.Push(&c.queue, &queued{due: e.DeliverAt, seq: c.seq, ev: e})
	}
	c.stats.Pending = len(c.queue)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// AddPush queues the events of one of the app's pushes (PushEvents) and
// returns how many there are.
func (c *CallbackSender) AddPush(pushID string) int {
	events := c.sim.PushEvents(c.cfg.SDKAppID, pushID)
	c.Add(events...)
	return len(events)
}

// Stats returns the sender's counters.
func (c *CallbackSender) Stats() CallbackStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Run posts events as they fall due until ctx ends.
func (c *CallbackSender) Run(ctx context.Context) {
	for {
		_ = c.SendDue(ctx) // failures are counted, and retried
		var due <-chan time.Time
		var t clock.Timer
		if next, ok := c.next(); ok {
			t = c.clock.NewTimer(next.Sub(c.clock.Now()))
			due = t.C()
		}
		select {
		case <-ctx.Done():
		case <-due:
		case <-c.wake:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// SendDue posts every event due now, in batches, and returns the first
// POST's error, if any. The events of a failed POST are queued again
// RetryAfter later (or dropped after MaxAttempts).
func (c *CallbackSender) SendDue(ctx context.Context) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	now := c.clock.Now()
	var first error
	for {
		batch := c.take(now)
		if len(batch) == 0 {
			return first
		}
		err := c.post(ctx, batch)
		c.settle(batch, err)
		if first == nil {
			first = err
		}
	}
}

// take removes up to MaxCallbackEvents events due at now from the queue.
func (c *CallbackSender) take(now time.Time) []*queued {
	c.mu.Lock()
	defer c.mu.Unlock()
	var batch []*queued
	for len(c.queue) > 0 && len(batch) < MaxCallbackEvents && !c.queue[0].due.After(now) {
		batch = append(batch, heap.Pop(&c.queue).(*queued))
	}
	return batch
}

// settle counts a POST of batch and queues its events again if it failed.
func (c *CallbackSender) settle(batch []*queued, err error) {
	retry := c.clock.Now().Add(c.cfg.RetryAfter)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Posts++
	if err == nil {
		c.stats.Delivered += len(batch)
	} else {
		c.stats.Failures++
		for _, q := range batch {
			if q.attempts++; q.attempts >= c.cfg.MaxAttempts {
				c.stats.Dropped++
				continue
			}
			c.seq++
			q.due, q.seq = retry, c.seq
			heap.Push(&c.queue, q)
		}
	}
	c.stats.Pending = len(c.queue)
}

func (c *CallbackSender) post(ctx context.Context, batch []*queued) error {
	events := make([]PushEvent, len(batch))
	for i, q := range batch {
		events[i] = q.ev
	}
	q := CallbackQuery(c.cfg.SDKAppID, c.cfg.Token, c.clock.Now())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL+"?"+q.Encode(), bytes.NewReader(CallbackBody(events)))
	if err != nil {
		return fmt.Errorf("callback POST: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		// Not the *url.Error itself: its URL holds the Sign.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("callback POST: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // only to reuse the connection
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("callback POST: HTTP status %d", resp.StatusCode)
	}
	return nil
}

// next returns when the earliest queued event is due.
func (c *CallbackSender) next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return time.Time{}, false
	}
	return c.queue[0].due, true
}

// queued is an event waiting in a CallbackSender.
type queued struct {
	due      time.Time
	seq      uint64 // order of queueing, among events due at the same time
	attempts int    // failed POSTs so far
	ev       PushEvent
}

// eventQueue is a min-heap of queued events by due time.
type eventQueue []*queued

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*queued)) }
func (q *eventQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return x
}

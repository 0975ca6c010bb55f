// Package collector is the heart of timpush_exporter: it samples and
// deduplicates incoming PushIDs, schedules their trace queries (first query
// after query_delay, requeries while stages are still unreported), counts
// every stage outcome exactly once, checkpoints all of that state to the
// store in one transaction, and serves the last saved counters on /metrics.
package collector

import (
	"context"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/taxonomy"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Tracer queries the trace of one push. *timapi.Client implements it.
type Tracer interface {
	Trace(ctx context.Context, pushID string) (*timapi.Trace, error)
}

// Persister saves checkpoints. *store.Store implements it.
type Persister interface {
	Commit(b *store.Batch) error
	ForEach(bucket string, fn func(k, v []byte) error) error
}

// Reasoner names the reason of a stage failure (*taxonomy.Table).
type Reasoner interface {
	Reason(platform, stage string, code int, info string) string
}

// App is one configured app as the collector needs it.
type App struct {
	Name         string
	SampleRatio  float64 // used when AutoSample is false
	AutoSample   bool    // the ratio follows the incoming rate (sample_ratio: auto)
	QueryDelay   time.Duration
	RequeryAfter []time.Duration
	MaxPending   int
	RateLimit    float64 // exported as timpush_exporter_rate_limit; pacing itself is the Tracer's
	Tracer       Tracer
}

// Options configure a Collector.
type Options struct {
	Clock              clock.Clock
	Logger             log.Logger
	Store              Persister     // nil: nothing is saved (tests)
	CheckpointInterval time.Duration // default 1s
	MaxDedup           int           // per app; default 1,000,000
	MaxErrorCodes      int           // distinct error_code values per app; default 50
	MaxFailures        int           // failed query rounds before a PushID is dropped; default 10, at most 255
}

// Collector implements source.Sink and prometheus.Collector.
type Collector struct {
	opts    Options
	reasons Reasoner // guarded by mu
	clock   clock.Clock
	logger  log.Logger
	store   Persister
	self    *selfMetrics

	mu        sync.Mutex
	apps      map[string]*appState
	series    *series
	cursors   map[string][]byte
	dirtyCur  map[string]struct{}
	offered   uint64 // generation of the last Offer
	removed   []string
	runCtx    context.Context
	workers   sync.WaitGroup
	committed uint64        // generation covered by the last successful checkpoint
	commitCh  chan struct{} // closed and replaced after each checkpoint
	flush     chan struct{}

	snap atomic.Pointer[snapshot]

	// Owned by checkpoint (serialised by ckMu).
	ckMu         sync.Mutex
	retry        *store.Batch
	retryChanged map[seriesKey]savedValue
}

// New returns a collector. Register it (and nothing global) on reg.
func New(o Options, reg prometheus.Registerer) *Collector {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = time.Second
	}
	if o.MaxDedup <= 0 {
		o.MaxDedup = 1_000_000
	}
	if o.MaxErrorCodes <= 0 {
		o.MaxErrorCodes = 50
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 10
	}
	o.MaxFailures = min(o.MaxFailures, math.MaxUint8) // entry.failures is a byte
	c := &Collector{
		opts:     o,
		reasons:  taxonomy.Default(),
		clock:    o.Clock,
		logger:   o.Logger,
		store:    o.Store,
		apps:     map[string]*appState{},
		series:   newSeries(),
		cursors:  map[string][]byte{},
		dirtyCur: map[string]struct{}{},
		commitCh: make(chan struct{}),
		flush:    make(chan struct{}, 1),
	}
	c.self = newSelfMetrics()
	c.snap.Store(&snapshot{families: emptyFamilies})
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

// appState is everything the collector keeps for one app.
type appState struct {
	cfg        App
	queue      *queue
	dedup      *dedup
	errorCodes map[string]struct{}
	auto       *autoSampler // nil unless the app samples automatically
	up         bool
	dirty      map[string]*entry   // pending entries changed since the last checkpoint
	deleted    map[string]struct{} // pending entries removed since the last checkpoint
	wake       chan struct{}
	cancel     context.CancelFunc
	done       chan struct{}
}

func (c *Collector) newAppState(a App) *appState {
	return &appState{
		cfg:        a,
		queue:      newQueue(),
		dedup:      newDedup(c.opts.MaxDedup),
		errorCodes: map[string]struct{}{},
		up:         true,
		dirty:      map[string]*entry{},
		deleted:    map[string]struct{}{},
		wake:       make(chan struct{}, 1),
	}
}

// setAutoLocked starts or stops automatic sampling after a (re)configuration.
func (c *Collector) setAutoLocked(st *appState) {
	switch {
	case st.cfg.AutoSample && st.auto == nil:
		st.auto = newAutoSampler(len(st.cfg.RequeryAfter), c.clock.Now())
	case !st.cfg.AutoSample:
		st.auto = nil
	}
}

// ratio is the sample ratio in force.
func (st *appState) ratio() float64 {
	if st.auto != nil {
		return st.auto.ratio
	}
	return st.cfg.SampleRatio
}

// SetReasons replaces the failure reason table (error_reasons overrides).
func (c *Collector) SetReasons(r Reasoner) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reasons = r
}

// SetApps installs the configured apps: new ones start, changed ones take
// the new settings (and Tracer), removed ones stop and drop their pending
// PushIDs. It is called at start-up and on every successful reload.
func (c *Collector) SetApps(apps []App) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := map[string]bool{}
	for _, a := range apps {
		keep[a.Name] = true
		if st, ok := c.apps[a.Name]; ok {
			st.cfg = a
			c.setAutoLocked(st)
			c.wakeLocked(st)
			continue
		}
		st := c.newAppState(a)
		c.setAutoLocked(st)
		c.apps[a.Name] = st
		if c.runCtx != nil {
			c.startWorkerLocked(st)
		}
	}
	for name, st := range c.apps {
		if keep[name] {
			continue
		}
		if st.cancel != nil {
			st.cancel()
		}
		for _, e := range st.queue.entries {
			c.dropLocked(st, e, "app_removed")
		}
		c.removed = append(c.removed, name)
		delete(c.apps, name)
	}
}

func (c *Collector) wakeLocked(st *appState) {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// Offer implements source.Sink.
func (c *Collector) Offer(b source.Batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offered++
	for _, n := range b.Received {
		st := c.apps[n.App]
		if st == nil {
			c.self.unknownApp.WithLabelValues(n.Source).Add(float64(n.N))
			continue
		}
		c.series.add(seriesKey{metric: mReceived, app: n.App, extra: n.Source}, float64(n.N))
	}
	var st *appState // the last ID's: a batch is usually all one app's
	for _, id := range b.IDs {
		if st == nil || st.cfg.Name != id.App {
			if st = c.apps[id.App]; st == nil {
				continue // counted as unknown above
			}
		}
		c.offerLocked(st, id)
	}
	if cur := b.Cursor; cur != nil {
		if cur.Value == nil {
			delete(c.cursors, cur.Key)
		} else {
			c.cursors[cur.Key] = append([]byte(nil), cur.Value...)
		}
		c.dirtyCur[cur.Key] = struct{}{}
	}
}

// Ratio implements source.Sink.
func (c *Collector) Ratio(app string, arrivals int) (float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.apps[app]
	if st == nil {
		return 0, false
	}
	if st.auto != nil && arrivals > 0 {
		st.auto.arrivals += float64(arrivals)
		st.auto.cut(c.clock.Now(), st.cfg.RateLimit, st.queue.ready.Len())
	}
	return st.ratio(), true
}

// offerLocked takes one sampled PushID of st's app.
func (c *Collector) offerLocked(st *appState, id pushid.ID) {
	app := st.cfg.Name
	h := pushid.Hash(id.PushID)
	if _, pending := st.queue.entries[id.PushID]; pending || !st.dedup.add(h, id.Seen) {
		c.series.add(seriesKey{metric: mDuplicates, app: app}, 1)
		return
	}
	c.series.add(seriesKey{metric: mSampled, app: app}, 1)
	// A copy: the PushIDs of a file source's batch share one string.
	seen := id.Seen.UnixNano()
	e := &entry{pushID: strings.Clone(id.PushID), seen: seen, due: seen + int64(st.cfg.QueryDelay)}
	st.queue.add(e)
	c.markDirty(st, e)
	for st.queue.len() > st.cfg.MaxPending {
		old := st.queue.oldestUnqueried()
		if old == nil {
			break // everything is in flight or being requeried; allow the overshoot
		}
		c.dropLocked(st, old, "queue_full")
	}
	c.wakeLocked(st)
}

// Durable implements source.Sink: it asks for a checkpoint and waits until
// one that includes everything offered so far has been saved.
func (c *Collector) Durable(ctx context.Context) error {
	c.mu.Lock()
	target := c.offered
	if c.committed >= target {
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	for {
		select {
		case c.flush <- struct{}{}:
		default:
		}
		c.mu.Lock()
		done, ch := c.committed >= target, c.commitCh
		c.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Cursor implements source.Sink.
func (c *Collector) Cursor(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.cursors[key]
	return v, ok
}

// Cursors implements source.Sink.
func (c *Collector) Cursors(prefix string) map[string][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range c.cursors {
		if strings.HasPrefix(k, prefix) {
			out[k] = append([]byte(nil), v...)
		}
	}
	return out
}

// Run queries, checkpoints and serves until ctx ends, then stops the
// workers (an in-flight query is cancelled and its PushID stays pending)
// and saves a final checkpoint.
func (c *Collector) Run(ctx context.Context) error {
	workCtx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	c.runCtx = workCtx
	for _, st := range c.apps {
		c.startWorkerLocked(st)
	}
	c.mu.Unlock()

	c.checkpointLoop(ctx)
	cancel()
	c.workers.Wait()
	return c.checkpoint()
}

func (c *Collector) startWorkerLocked(st *appState) {
	ctx, cancel := context.WithCancel(c.runCtx)
	st.cancel = cancel
	c.workers.Add(1)
	go func() {
		defer c.workers.Done()
		c.work(ctx, st)
	}()
}

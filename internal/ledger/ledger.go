// Package ledger holds the exporter's state and nothing else: the pending
// PushIDs with what each has counted, the 7-day dedup set, the counters and
// histograms of stage outcomes and callback events, the sources' cursors,
// and the checkpoints that save all of it to the state file in one
// transaction and publish what was saved for /metrics. It runs no
// goroutines: the scheduler asks it what is due and tells it what a query
// returned; sources offer it batches; a checkpoint is a method call.
//
// Every stage outcome and every callback event is counted exactly once,
// and a count is served only after the checkpoint holding it committed, so
// that a crash never makes a served counter go backwards.
package ledger

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/taxonomy"
)

// AppConfig is what the ledger needs of one configured app.
type AppConfig struct {
	Name         string
	QueryDelay   time.Duration   // first query, after the PushID was seen
	RequeryAfter []time.Duration // when later queries may be made, after it was seen
	MaxPending   int             // beyond it, the oldest never-queried PushID is dropped
}

// Options configure a Ledger. Zero values select the defaults.
type Options struct {
	Clock  clock.Clock
	Logger log.Logger
	Store  *store.Store // nil: nothing is saved (tests, the fidelity harness)
	// MaxDedup bounds the 7-day dedup set of sampled PushIDs per app
	// (default 1,000,000): past it, the oldest hour is forgotten.
	MaxDedup int
	// MaxErrorCodes bounds the distinct error_code values per app (default
	// 50); beyond it they count as "other".
	MaxErrorCodes int
	// MaxEvents and EventWindow bound the callback events remembered per app
	// for deduplication (default 2,000,000 and 6 hours): see events.go.
	MaxEvents   int
	EventWindow time.Duration
}

// Sampler is the sampling decision (the scheduler's): see source.Sink.Ratio.
type Sampler interface {
	Ratio(app string, arrivals int) (float64, bool)
}

// Reasoner names the reason of a failure (*taxonomy.Table).
type Reasoner interface {
	Reason(platform, stage string, code int, info string) string
}

// Ledger is the state. It is safe for concurrent use.
type Ledger struct {
	opts    Options
	clock   clock.Clock
	logger  log.Logger
	store   *store.Store
	metrics *metrics
	sampler atomic.Pointer[Sampler]

	mu       sync.Mutex
	reasons  Reasoner
	books    map[string]*book
	series   *series
	cursors  map[string][]byte
	dirtyCur map[string]struct{}
	removed  []string // apps whose saved state is deleted at the next checkpoint
	offered  uint64   // generation of the last Offer

	committed uint64        // generation covered by the last successful checkpoint
	commitCh  chan struct{} // closed and replaced after each checkpoint
	flush     chan struct{} // a waiting Durable asks for a checkpoint

	snap atomic.Pointer[Snapshot]

	ckMu         sync.Mutex // serialises checkpoints; guards retry*
	retry        *store.Batch
	retryChanged map[seriesKey]savedValue
	commit       func(*store.Batch) error // store.Commit; tests hold it
}

// New returns an empty ledger. Register its metrics with Collectors.
func New(o Options) *Ledger {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.MaxDedup <= 0 {
		o.MaxDedup = 1_000_000
	}
	if o.MaxErrorCodes <= 0 {
		o.MaxErrorCodes = 50
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 2_000_000
	}
	if o.EventWindow <= 0 {
		o.EventWindow = 6 * time.Hour
	}
	l := &Ledger{
		opts: o, clock: o.Clock, logger: o.Logger, store: o.Store,
		metrics:  newMetrics(),
		reasons:  taxonomy.Default(),
		books:    map[string]*book{},
		series:   newSeries(),
		cursors:  map[string][]byte{},
		dirtyCur: map[string]struct{}{},
		commitCh: make(chan struct{}),
		flush:    make(chan struct{}, 1),
	}
	l.snap.Store(&Snapshot{families: emptyFamilies})
	if o.Store != nil {
		l.commit = o.Store.Commit
	}
	return l
}

// Collectors are the ledger's own process metrics (checkpoints, skipped
// records, unknown apps), for a prometheus.Registerer.
func (l *Ledger) Collectors() []prometheus.Collector { return l.metrics.collectors() }

// SetSampler installs the sampling decision given to sources.
func (l *Ledger) SetSampler(s Sampler) { l.sampler.Store(&s) }

// SetReasons replaces the failure reason table (error_reasons overrides).
func (l *Ledger) SetReasons(r Reasoner) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reasons = r
}

// SetApps installs the configured apps: new ones get an empty book,
// changed ones take the new settings, removed ones drop their pending
// PushIDs (counted as app_removed) and their saved state. It is called at
// start-up, before Restore, and on every successful reload.
func (l *Ledger) SetApps(apps []AppConfig) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := map[string]bool{}
	for _, a := range apps {
		keep[a.Name] = true
		if b, ok := l.books[a.Name]; ok {
			b.cfg = a
			continue
		}
		l.books[a.Name] = newBook(a, l.opts)
	}
	for name, b := range l.books {
		if keep[name] {
			continue
		}
		if n := b.p.len(); n > 0 {
			l.series.add(seriesKey{metric: mDropped, app: name, extra: "app_removed"}, float64(n))
		}
		l.removed = append(l.removed, name)
		delete(l.books, name)
	}
}

// Pending is the number of app's PushIDs waiting for a query or requery.
func (l *Ledger) Pending(app string) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.books[app]
	if !ok {
		return 0, false
	}
	return b.p.len(), true
}

// Backlog is the number of app's PushIDs due for a first query and not yet
// late: the queue a busy budget works through (sample_ratio: auto reads it).
func (l *Ledger) Backlog(app string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.books[app]; ok {
		return b.queues.fresh.len()
	}
	return 0
}

// Taken counts, since the start, the sampled PushIDs of app that were new
// (taken for tracing) and those that were duplicates. Sampling is by hash,
// so the share of new ones is that of all PushIDs received: what the
// automatic sample ratio needs to count each push once, however many
// sources or events announce it.
func (l *Ledger) Taken(app string) (fresh, duplicate float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.series.counters[seriesKey{metric: mSampled, app: app}], l.series.counters[seriesKey{metric: mDuplicates, app: app}]
}

// Durable returns once everything offered before the call is saved, or ctx
// ends. Requests waiting together share one commit.
//
// It asks for a checkpoint only while its offers are not saved: asking
// again after the one that saved them would cost the next checkpoint an
// fsync that nobody waits for.
func (l *Ledger) Durable(ctx context.Context) error {
	l.mu.Lock()
	target := l.offered
	l.mu.Unlock()
	for {
		// ch is read with committed: a checkpoint that saves target
		// after this look closes this ch.
		l.mu.Lock()
		done, ch := l.committed >= target, l.commitCh
		l.mu.Unlock()
		if done {
			return nil
		}
		select {
		case l.flush <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Wake is signalled when a PushID of app was taken: the scheduler's worker,
// asleep until its next due work, looks again. Nil for an unknown app.
func (l *Ledger) Wake(app string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.books[app]; ok {
		return b.wake
	}
	return nil
}

// FlushRequested is signalled when a Durable waits: the checkpoint loop
// then saves at once instead of at its next tick.
func (l *Ledger) FlushRequested() <-chan struct{} { return l.flush }

// Cursor implements source.Sink.
func (l *Ledger) Cursor(key string) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.cursors[key]
	return v, ok
}

// Cursors implements source.Sink.
func (l *Ledger) Cursors(prefix string) map[string][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range l.cursors {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			out[k] = append([]byte(nil), v...)
		}
	}
	return out
}

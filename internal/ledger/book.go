package ledger

import (
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
)

// retention is how long Tencent keeps traces, and so how long a PushID is
// worth remembering.
const retention = 7 * 24 * time.Hour

// book is everything the ledger keeps for one app.
type book struct {
	cfg    AppConfig
	p      *pending
	queues queues
	dedup  *timeSet // sampled PushIDs of the last 7 days, by hour seen
	events *timeSet // callback events counted, by minute of EventTime
	// errorCodes are the error_code label values in use (capped).
	errorCodes map[string]struct{}
	nextSeq    uint64
	wake       chan struct{} // see Ledger.Wake
	// unqueried is in arrival order. A record queried or removed stays in
	// it until it reaches the front or the slice is compacted (when half of
	// it is such): O(1) amortised, 8 bytes a record.
	unqueried []unqueriedRef
	stale     int
}

// unqueriedRef is a record that was never queried, as it arrived.
type unqueriedRef struct {
	r   ref
	seq uint64 // tells a reused slot from the record that arrived
}

func newBook(a AppConfig, o Options) *book {
	return &book{
		cfg:        a,
		p:          newPending(a.Name),
		queues:     newQueues(),
		dedup:      newTimeSet(time.Hour, o.MaxDedup, retention),
		events:     newEventSet(o),
		errorCodes: map[string]struct{}{},
		wake:       make(chan struct{}, 1),
	}
}

// Offer implements source.Sink: it counts what was received, takes the
// sampled PushIDs not seen in the last 7 days, counts the callback events
// not counted before, and keeps the cursor with them.
func (l *Ledger) Offer(b source.Batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.offered++
	for _, n := range b.Received {
		if _, ok := l.books[n.App]; !ok {
			l.metrics.unknownApp.WithLabelValues(n.Source).Add(float64(n.N))
			continue
		}
		l.series.add(seriesKey{metric: mReceived, app: n.App, extra: n.Source}, float64(n.N))
	}
	var bk *book // the last ID's: a batch is usually all one app's
	for _, id := range b.IDs {
		if bk == nil || bk.cfg.Name != id.App {
			if bk = l.books[id.App]; bk == nil {
				continue // counted as unknown with Received
			}
		}
		l.takeLocked(bk, id)
	}
	for i := range b.Events {
		l.countEventLocked(&b.Events[i])
	}
	if cur := b.Cursor; cur != nil {
		if cur.Value == nil {
			delete(l.cursors, cur.Key)
		} else {
			l.cursors[cur.Key] = append([]byte(nil), cur.Value...)
		}
		l.dirtyCur[cur.Key] = struct{}{}
	}
}

// Ratio implements source.Sink with the Sampler's decision (1 without one).
// It takes no lock of the ledger: the sampler may ask the ledger for its
// backlog.
func (l *Ledger) Ratio(app string, arrivals int) (float64, bool) {
	if s := l.sampler.Load(); s != nil {
		return (*s).Ratio(app, arrivals)
	}
	l.mu.Lock()
	_, ok := l.books[app]
	l.mu.Unlock()
	return 1, ok
}

// takeLocked takes one sampled PushID, unless it was seen before.
func (l *Ledger) takeLocked(b *book, id pushid.ID) {
	h := pushid.Hash(id.PushID)
	if !b.dedup.add(h, id.Seen) {
		l.series.add(seriesKey{metric: mDuplicates, app: b.cfg.Name}, 1)
		return
	}
	seen := id.Seen.UnixNano()
	r, ok := b.p.add(id.PushID, h, seen, seen+int64(b.cfg.QueryDelay), b.nextSeq)
	if !ok { // pending under the same hash: a duplicate after all
		l.series.add(seriesKey{metric: mDuplicates, app: b.cfg.Name}, 1)
		return
	}
	b.nextSeq++
	l.series.add(seriesKey{metric: mSampled, app: b.cfg.Name}, 1)
	b.unqueried = append(b.unqueried, unqueriedRef{r, b.p.rec(r).seq})
	b.queues.wait(b.p, r)
	select {
	case b.wake <- struct{}{}:
	default:
	}
	for b.p.len() > b.cfg.MaxPending {
		old, ok := b.oldestUnqueried()
		if !ok {
			break // everything is in flight or being requeried; allow the overshoot
		}
		l.dropLocked(b, old, "queue_full")
	}
}

// oldestUnqueried is the record a full queue drops.
func (b *book) oldestUnqueried() (ref, bool) {
	for len(b.unqueried) > 0 {
		u := b.unqueried[0]
		if b.isUnqueried(u) {
			return u.r, true
		}
		b.unqueried = b.unqueried[1:]
		b.stale--
	}
	return 0, false
}

func (b *book) isUnqueried(u unqueriedRef) bool {
	rec := b.p.rec(u.r)
	return rec.seq == u.seq && rec.flags&(flagLive|flagUnqueried) == flagLive|flagUnqueried
}

// queried marks r as no longer unqueried (the flag is not saved: a
// restored record that has not reached a requery is unqueried again).
func (b *book) queried(r ref) {
	rec := b.p.rec(r)
	if rec.flags&flagUnqueried == 0 {
		return
	}
	rec.flags &^= flagUnqueried
	b.stale++
	if 2*b.stale > len(b.unqueried) {
		live := make([]unqueriedRef, 0, len(b.unqueried)-b.stale)
		for _, u := range b.unqueried {
			if b.isUnqueried(u) {
				live = append(live, u)
			}
		}
		b.unqueried, b.stale = live, 0
	}
}

// dropLocked forgets a pending PushID and counts why.
func (l *Ledger) dropLocked(b *book, r ref, reason string) {
	l.series.add(seriesKey{metric: mDropped, app: b.cfg.Name, extra: reason}, 1)
	l.removeLocked(b, r)
}

// removeLocked forgets a pending PushID; it stays in the dedup set.
func (l *Ledger) removeLocked(b *book, r ref) {
	b.queues.detach(b.p, r)
	b.queried(r)
	b.p.remove(r)
}

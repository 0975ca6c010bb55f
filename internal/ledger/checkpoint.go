package ledger

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/timpush/timpush_exporter/internal/store"
)

// Checkpoint writes everything changed since the last one in one
// transaction, then publishes the counters it saved: /metrics only ever
// shows saved values, so a crash cannot make a served counter go backwards.
// A failed commit is retried with the next checkpoint, its writes first.
func (l *Ledger) Checkpoint() error {
	l.ckMu.Lock()
	defer l.ckMu.Unlock()

	l.mu.Lock()
	b, changed := l.batchLocked()
	gen := l.offered
	l.mu.Unlock()

	if l.retry != nil {
		l.retry.Append(b)
		b = l.retry
		for k, v := range l.retryChanged {
			if _, newer := changed[k]; !newer {
				changed[k] = v
			}
		}
	}
	start := time.Now()
	var err error
	if l.commit != nil {
		err = l.commit(b)
	}
	l.metrics.checkpointDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		l.metrics.checkpointFailures.Inc()
		l.retry, l.retryChanged = b, changed
		return fmt.Errorf("commit state: %w", err)
	}
	l.retry, l.retryChanged = nil, nil

	// Rendered outside l.mu, so that counting goes on meanwhile; only
	// checkpoints (serialised by ckMu) publish snapshots.
	next := l.snap.Load().with(changed)
	next.at = l.clock.Now()
	l.snap.Store(next)
	l.mu.Lock()
	if gen > l.committed {
		l.committed = gen
	}
	close(l.commitCh)
	l.commitCh = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// Snapshot is what the last checkpoint saved.
func (l *Ledger) Snapshot() *Snapshot { return l.snap.Load() }

// batchLocked turns the changed state into a batch and clears it. It also
// returns the values of the series it writes: what a successful commit
// publishes. Counting goes on while the commit runs; those later counts are
// served only once a later checkpoint has saved them.
func (l *Ledger) batchLocked() (*store.Batch, map[seriesKey]savedValue) {
	b := &store.Batch{}
	now := l.clock.Now()
	for _, name := range l.removed {
		prefix := append([]byte(name), 0)
		for _, bucket := range []string{bucketPending, bucketDedup, bucketEvents} {
			b.DeletePrefixBelow(bucket, prefix, []byte{0xff})
		}
	}
	l.removed = nil
	for name, bk := range l.books {
		p := bk.p
		for _, k := range p.gone {
			b.Delete(bucketPending, k)
		}
		p.gone = p.gone[:0]
		for r := range p.dirty {
			b.Put(bucketPending, pendingKey(name, p.idBytes(r)), p.encodePending(r))
			p.rec(r).flags |= flagSaved
		}
		clear(p.dirty)
		batchTimeSet(b, bucketDedup, name, bk.dedup, now)
		batchTimeSet(b, bucketEvents, name, bk.events, now)
	}
	for key := range l.dirtyCur {
		if v, ok := l.cursors[key]; ok {
			b.Put(bucketCursors, []byte(key), v)
		} else {
			b.Delete(bucketCursors, []byte(key))
		}
	}
	clear(l.dirtyCur)
	return b, l.series.saveDirty(b)
}

// batchTimeSet expires s and writes what it added and forgot.
func batchTimeSet(b *store.Batch, bucket, app string, s *timeSet, now time.Time) {
	s.expire(now)
	prefix := append([]byte(app), 0)
	for _, limit := range s.evicted {
		b.DeletePrefixBelow(bucket, prefix, binary.BigEndian.AppendUint32(nil, limit))
	}
	for _, k := range s.added {
		if slot, ok := s.seen[k.key]; ok && slot == k.slot { // not forgotten since
			b.Put(bucket, k.storeKey(app), nil)
		}
	}
	s.evicted, s.added = s.evicted[:0], s.added[:0]
}

// saveDirty writes the series changed since the last checkpoint and returns
// their values.
func (s *series) saveDirty(b *store.Batch) map[seriesKey]savedValue {
	changed := make(map[seriesKey]savedValue, len(s.dirty))
	for k := range s.dirty {
		if h, ok := s.histograms[k]; ok {
			cp := histogram{count: h.count, sum: h.sum, buckets: append([]uint64(nil), h.buckets...)}
			b.Put(bucketSeries, encodeKey(k), encodeHistogram(&cp))
			changed[k] = savedValue{hist: &cp}
		} else {
			v := s.counters[k]
			b.Put(bucketSeries, encodeKey(k), encodeCounter(v))
			changed[k] = savedValue{counter: v, exemplar: s.exemplars[k]}
		}
	}
	clear(s.dirty)
	return changed
}

package collector

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/internal/store"
)

// Buckets of the state file.
const (
	bucketPending = "pending" // app \x00 PushID -> entry
	bucketDedup   = "dedup"   // app \x00 hour hash -> empty
	bucketSeries  = "series"  // series key -> counter or histogram
	bucketCursors = "cursors" // source cursor key -> opaque value
)

func (c *Collector) markDirty(st *appState, e *entry) {
	st.dirty[e.pushID] = e
	delete(st.deleted, e.pushID)
}

func (c *Collector) markDeleted(st *appState, e *entry) {
	delete(st.dirty, e.pushID)
	st.deleted[e.pushID] = struct{}{}
}

func pendingKey(app, pushID string) []byte {
	return append(append([]byte(app), 0), pushID...)
}

// checkpointLoop saves a checkpoint every interval, or at once when a
// webhook waits in Durable (many waiting requests share one commit).
func (c *Collector) checkpointLoop(ctx context.Context) {
	t := c.clock.NewTimer(c.opts.CheckpointInterval)
	defer func() { t.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			t = c.clock.NewTimer(c.opts.CheckpointInterval)
		case <-c.flush:
		}
		if err := c.checkpoint(); err != nil {
			level.Error(c.logger).Log("msg", "saving state failed; will retry", "err", err)
		}
	}
}

// checkpoint writes everything changed since the last one in one
// transaction, then publishes the counters it saved: /metrics only ever
// shows saved values, so a crash cannot make a counter go backwards.
func (c *Collector) checkpoint() error {
	c.ckMu.Lock()
	defer c.ckMu.Unlock()

	c.mu.Lock()
	b, changed := c.batchLocked()
	gen := c.offered
	c.mu.Unlock()

	// A failed commit is retried with the next one: its writes go first.
	if c.retry != nil {
		c.retry.Append(b)
		b = c.retry
		for k, v := range c.retryChanged {
			if _, newer := changed[k]; !newer {
				changed[k] = v
			}
		}
	}
	start := time.Now()
	var err error
	if c.store != nil {
		err = c.store.Commit(b)
	}
	c.self.checkpointDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		c.self.checkpointFailures.Inc()
		c.retry, c.retryChanged = b, changed
		return fmt.Errorf("commit state: %w", err)
	}
	c.retry, c.retryChanged = nil, nil

	// Rendered outside c.mu, so that counting goes on meanwhile; only
	// checkpoints (serialised by ckMu) publish snapshots.
	next := c.snap.Load().with(changed)
	next.at = c.clock.Now()
	c.snap.Store(next)
	c.mu.Lock()
	if gen > c.committed {
		c.committed = gen
	}
	close(c.commitCh)
	c.commitCh = make(chan struct{})
	c.mu.Unlock()
	return nil
}

// batchLocked turns the dirty state into a batch and clears it. It also
// returns the values of the series it writes: what a successful commit
// publishes. Counting goes on while the commit runs; those later counts are
// served only once a later checkpoint has saved them, so that a crash can
// never take /metrics below a value it showed.
func (c *Collector) batchLocked() (*store.Batch, map[seriesKey]savedValue) {
	b := &store.Batch{}
	now := c.clock.Now()
	for _, name := range c.removed {
		prefix := append([]byte(name), 0)
		b.DeletePrefixBelow(bucketPending, prefix, []byte{0xff})
		b.DeletePrefixBelow(bucketDedup, prefix, []byte{0xff})
	}
	c.removed = nil
	for name, st := range c.apps {
		if st.auto != nil {
			st.auto.tune(now, st.cfg.RateLimit, st.queue.ready.Len())
		}
		for id := range st.deleted {
			b.Delete(bucketPending, pendingKey(name, id))
		}
		for id, e := range st.dirty {
			b.Put(bucketPending, pendingKey(name, id), encodeEntry(e))
		}
		clear(st.deleted)
		clear(st.dirty)
		st.dedup.expire(now)
		for _, limit := range st.dedup.evicted {
			b.DeletePrefixBelow(bucketDedup, append([]byte(name), 0), binary.BigEndian.AppendUint32(nil, limit))
		}
		for _, k := range st.dedup.added {
			b.Put(bucketDedup, dedupStoreKey(name, k), nil)
		}
		st.dedup.evicted, st.dedup.added = nil, nil
	}
	for key := range c.dirtyCur {
		if v, ok := c.cursors[key]; ok {
			b.Put(bucketCursors, []byte(key), v)
		} else {
			b.Delete(bucketCursors, []byte(key))
		}
	}
	clear(c.dirtyCur)
	changed := make(map[seriesKey]savedValue, len(c.series.dirty))
	for k := range c.series.dirty {
		if h, ok := c.series.histograms[k]; ok {
			cp := histogram{count: h.count, sum: h.sum, buckets: append([]uint64(nil), h.buckets...)}
			b.Put(bucketSeries, encodeKey(k), encodeHistogram(&cp))
			changed[k] = savedValue{hist: &cp}
		} else {
			v := c.series.counters[k]
			b.Put(bucketSeries, encodeKey(k), encodeCounter(v))
			changed[k] = savedValue{counter: v, exemplar: c.series.exemplars[k]}
		}
	}
	c.series.dirty = map[seriesKey]struct{}{}
	return b, changed
}

// entry record: version, seen, due (unix ns), step, failures, instances.
const entryVersion = 1

func encodeEntry(e *entry) []byte {
	instances := e.instanceList()
	b := make([]byte, 0, 32+len(instances)*16)
	b = binary.AppendUvarint(b, entryVersion)
	b = binary.AppendVarint(b, e.seen)
	b = binary.AppendVarint(b, e.due)
	b = binary.AppendUvarint(b, uint64(e.step))
	b = binary.AppendUvarint(b, uint64(e.failures))
	b = binary.AppendUvarint(b, uint64(len(instances)))
	for _, is := range instances {
		b = binary.AppendUvarint(b, uint64(len(is.id)))
		b = append(b, is.id...)
		b = binary.AppendVarint(b, int64(is.platform))
		b = binary.AppendUvarint(b, uint64(is.counted))
		b = binary.AppendUvarint(b, uint64(is.succeeded))
	}
	return b
}

var errBadEntry = errors.New("malformed pending record")

func decodeEntry(pushID string, b []byte) (*entry, error) {
	r := &reader{b: b}
	if v := r.uvarint(); v != entryVersion {
		return nil, fmt.Errorf("%w: version %d", errBadEntry, v)
	}
	e := &entry{pushID: pushID, heapIndex: -1}
	e.seen = r.varint()
	e.due = r.varint()
	step, failures := r.uvarint(), r.uvarint()
	if step > math.MaxUint16 || failures > math.MaxUint8 {
		return nil, fmt.Errorf("%w: step %d, failures %d", errBadEntry, step, failures)
	}
	e.step, e.failures = uint16(step), uint8(failures)
	n := r.uvarint()
	if n > 1024 {
		return nil, fmt.Errorf("%w: %d instances", errBadEntry, n)
	}
	var instances []instanceState
	for i := uint64(0); i < n && r.err == nil; i++ {
		id := r.bytes(int(r.uvarint()))
		instances = append(instances, instanceState{
			id:        string(id),
			platform:  int16(r.varint()),
			counted:   uint16(r.uvarint()),
			succeeded: uint16(r.uvarint()),
		})
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, errBadEntry
	}
	if len(instances) > 0 {
		e.instances = &instances
	}
	return e, nil
}

// reader decodes varints, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errBadEntry, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errBadEntry, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.err, r.b = errBadEntry, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

package ledger

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// Restore loads the saved state, in one pass over each bucket. Call it
// after the first SetApps and before anything is offered. Malformed
// records are logged, counted and skipped; the state of apps no longer
// configured is deleted at the next checkpoint. Pending PushIDs keep their
// arrival order, so that a full queue still drops the oldest.
func (l *Ledger) Restore() error {
	if l.store == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	rs := &restoring{l: l, gone: map[string]bool{}, waiting: map[*book][]ref{}, room: map[*book]int{}}
	if err := rs.reserve(); err != nil {
		return err
	}
	steps := []struct {
		bucket string
		fn     func(k, v []byte) error
	}{
		{bucketSeries, rs.series},
		{bucketCursors, rs.cursor},
		{bucketPending, rs.pending},
		{bucketDedup, rs.slotKey(func(b *book) *timeSet { return b.dedup })},
		{bucketEvents, rs.slotKey(func(b *book) *timeSet { return b.events })},
	}
	for _, s := range steps {
		if err := l.store.ForEach(s.bucket, s.fn); err != nil {
			return fmt.Errorf("read %s: %w", s.bucket, err)
		}
	}
	for b, refs := range rs.waiting {
		rs.order(b, refs)
	}
	for app := range rs.gone {
		level.Info(l.logger).Log("msg", "deleting the saved state of an app no longer configured", "app", app)
		l.removed = append(l.removed, app)
	}
	l.metrics.restoreSkipped.Add(float64(rs.bad))
	l.snap.Store(l.series.snapshotAll())
	return nil
}

// reserve counts the saved records of each app, keys only, and sizes the
// app's slices and maps for them (and for what max_pending lets them grow
// to soon after) before anything is decoded. Grown one append at a time
// instead, a slice of a million records is copied dozens of times (Go
// grows large slices by a quarter): the restore of a million pending
// PushIDs allocated 734 MB to keep 180 MB, and the RSS kept that peak.
func (rs *restoring) reserve() error {
	type tally struct{ pending, idBytes, dedup, events int }
	tallies := map[*book]*tally{}
	of := func(app []byte) *tally {
		b := rs.l.books[string(app)]
		if b == nil {
			return nil
		}
		t := tallies[b]
		if t == nil {
			t = &tally{}
			tallies[b] = t
		}
		return t
	}
	counts := []struct {
		bucket string
		add    func(t *tally, rest int)
	}{
		{bucketPending, func(t *tally, rest int) { t.pending++; t.idBytes += rest }},
		{bucketDedup, func(t *tally, _ int) { t.dedup++ }},
		{bucketEvents, func(t *tally, _ int) { t.events++ }},
	}
	for _, c := range counts {
		err := rs.l.store.ForEach(c.bucket, func(k, _ []byte) error {
			if app, rest, ok := bytes.Cut(k, []byte{0}); ok {
				if t := of(app); t != nil {
					c.add(t, len(rest))
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("count %s: %w", c.bucket, err)
		}
	}
	for b, t := range tallies {
		// Room for what max_pending lets the queue hold beyond what was
		// saved, up to a quarter more: sized exactly, the first PushID
		// offered after the restore would copy the record slice whole.
		room := max(t.pending, min(t.pending+t.pending/4, b.cfg.MaxPending))
		b.p.reserve(room, t.idBytes+t.idBytes*(room-t.pending)/max(t.pending, 1))
		b.dedup.reserve(t.dedup)
		b.events.reserve(t.events)
		rs.waiting[b] = make([]ref, 0, room) // becomes the waiting queue
		rs.room[b] = room
	}
	return nil
}

// restoring is the state of one Restore.
type restoring struct {
	l       *Ledger
	gone    map[string]bool // apps with saved state that are not configured
	waiting map[*book][]ref // restored records, in key order
	room    map[*book]int   // the records reserve made room for
	bad     int
}

func (rs *restoring) skip(bucket string, err error) {
	rs.bad++
	if rs.bad <= 10 {
		level.Warn(rs.l.logger).Log("msg", "skipping a malformed record in the state file", "bucket", bucket, "err", err)
	}
}

func (rs *restoring) book(app []byte) *book {
	b := rs.l.books[string(app)]
	if b == nil {
		rs.gone[string(app)] = true
	}
	return b
}

func (rs *restoring) series(k, v []byte) error {
	key, err := decodeKey(k)
	if err != nil {
		rs.skip(bucketSeries, err)
		return nil
	}
	s := rs.l.series
	if key.metric == mLatency {
		h, err := decodeHistogram(v)
		if err != nil {
			rs.skip(bucketSeries, err)
			return nil
		}
		s.histograms[key] = h
		return nil
	}
	val, err := decodeCounter(v)
	if err != nil {
		rs.skip(bucketSeries, err)
		return nil
	}
	s.counters[key] = val
	if b, ok := rs.l.books[key.app]; ok && (key.metric == mFailures || key.metric == mCallbackFailures) && key.extra != "other" {
		b.errorCodes[key.extra] = struct{}{}
	}
	return nil
}

func (rs *restoring) cursor(k, v []byte) error {
	rs.l.cursors[string(k)] = append([]byte(nil), v...)
	return nil
}

func (rs *restoring) pending(k, v []byte) error {
	app, id, ok := splitPendingKey(k)
	if !ok {
		rs.skip(bucketPending, errBadRecord)
		return nil
	}
	b := rs.book(app)
	if b == nil {
		return nil
	}
	s, err := decodePending(v)
	if err == nil && !pushid.ValidBytes(id) {
		err = fmt.Errorf("%w: invalid PushID", errBadRecord)
	}
	if err != nil {
		rs.skip(bucketPending, err)
		b.p.gone = append(b.p.gone, append([]byte(nil), k...))
		return nil
	}
	r, ok := b.p.addBytes(id, pushid.HashBytes(id), s.seen, s.due, s.seq)
	if !ok { // two saved PushIDs with one hash: keep the first
		b.p.gone = append(b.p.gone, append([]byte(nil), k...))
		return nil
	}
	rec := b.p.rec(r)
	rec.step, rec.failures = s.step, s.failures
	rec.flags |= flagSaved
	if rec.step != 0 {
		rec.flags &^= flagUnqueried
	}
	b.p.restoreInstances(r, s.instanceIDs, s.instanceState)
	if v[0] != pendingV1 { // a v1 record is rewritten as v2 at the next checkpoint
		delete(b.p.dirty, r)
	}
	b.nextSeq = max(b.nextSeq, s.seq+1)
	rs.waiting[b] = append(rs.waiting[b], r)
	return nil
}

// order puts a book's restored records in line (one heapify) and rebuilds
// the arrival order of the unqueried ones: by time seen, then by seq (v1
// records, which have no seq, are numbered in that order after the v2
// ones).
func (rs *restoring) order(b *book, refs []ref) {
	p := b.p
	slices.SortFunc(refs, func(x, y ref) int {
		a, c := p.rec(x), p.rec(y)
		switch {
		case a.seen != c.seen:
			return cmpInt64(a.seen, c.seen)
		default:
			return cmpInt64(int64(a.seq), int64(c.seq))
		}
	})
	unqueried := 0
	for _, r := range refs {
		if p.rec(r).flags&flagUnqueried != 0 {
			unqueried++
		}
	}
	// With the room reserve left for records offered after the restore.
	b.unqueried = slices.Grow(b.unqueried[:0], unqueried+max(rs.room[b]-len(refs), 0))
	for _, r := range refs {
		rec := p.rec(r)
		if _, dirty := p.dirty[r]; dirty && rec.seq == 0 { // v1
			rec.seq = b.nextSeq
			b.nextSeq++
		}
		rec.where = inWaiting
		if rec.flags&flagUnqueried != 0 {
			b.unqueried = append(b.unqueried, unqueriedRef{r, rec.seq})
		}
	}
	b.queues.waiting.init(p, refs)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (rs *restoring) slotKey(set func(*book) *timeSet) func(k, v []byte) error {
	return func(k, v []byte) error {
		app, slot, key, ok := splitSlotKey(k)
		if !ok {
			rs.skip("dedup", errBadRecord)
			return nil
		}
		if b := rs.book(app); b != nil {
			set(b).restore(key, slot)
		}
		return nil
	}
}

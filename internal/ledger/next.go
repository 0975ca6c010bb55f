package ledger

import (
	"time"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Class describes due work whose queries are expected to reveal alike, for
// a Policy to score.
type Class struct {
	// Step is 0 for first queries, k for the k-th requery.
	Step int
	// Missing is, for a requery, the mean number of instances per push
	// that still miss each stage (index NoTrace: pushes whose trace listed
	// no instance yet).
	Missing [NumMissing]float64
}

// Policy scores due work: the scheduler's.
type Policy interface {
	// Yield is the expected number of new stage outcomes of one query of
	// work of class c. Work whose class yields 0 or less is not worth a
	// call: it skips this requery.
	Yield(c Class) float64
}

// Work is one query the scheduler may make: a pending PushID taken out of
// line until Done, Retry, Requeue or Drop says what became of it.
type Work struct {
	App    string
	PushID string
	Step   int // 0: first query; k: the k-th requery
	// Displacing is true when a first query was due too, and this requery
	// was preferred to it.
	Displacing bool
	Seen       time.Time
	Failures   int // consecutive failed rounds so far

	r   ref
	seq uint64
}

// Next takes the most rewarding due work of app: the class (first queries,
// or requeries by step and what they wait for) with the highest Yield, its
// oldest member (first queries: in order while fresh, then freshest first).
// Without due work it returns ok false and when the next work falls due
// (zero: nothing pending). Requeries whose class yields nothing skip to
// their next step or finish; PushIDs older than Tencent's 7-day retention
// are dropped.
func (l *Ledger) Next(app string, now time.Time, pol Policy) (w Work, ok bool, next time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.books[app]
	if b == nil {
		return Work{}, false, time.Time{}
	}
	t := now.UnixNano()
	for {
		b.queues.promote(b.p, t)
		l.moveStaleLocked(b, t)
		b.queues.promote(b.p, t) // what moved on to a step due now
		r, c, found := l.bestLocked(b, pol, t)
		if !found {
			if b.queues.waiting.len() > 0 {
				next = time.Unix(0, b.p.rec(b.queues.waiting.peek()).due)
			}
			return Work{}, false, next
		}
		rec := b.p.rec(r)
		if t-rec.seen > int64(retention) {
			l.dropLocked(b, r, "expired")
			continue
		}
		b.queues.detach(b.p, r)
		b.queried(r)
		return Work{App: app, PushID: b.p.pushID(r), Step: int(rec.step), Seen: time.Unix(0, rec.seen),
			Failures: int(rec.failures), Displacing: c != nil && b.queues.fresh.len()+b.queues.late.len() > 0,
			r: r, seq: rec.seq}, true, time.Time{}
	}
}

// bestLocked finds the record to query: the head of the class with the
// highest yield (c nil: first queries). Classes that yield nothing skip.
func (l *Ledger) bestLocked(b *book, pol Policy, now int64) (ref, *class, bool) {
	q := &b.queues
	var (
		best      *class
		bestYield float64
		firstDue  = q.fresh.len()+q.late.len() > 0
	)
	if firstDue {
		bestYield = pol.Yield(Class{})
	}
	for _, c := range q.classes {
		if c.heap.len() == 0 {
			continue
		}
		y := pol.Yield(c.view())
		if y <= 0 {
			l.skipClassLocked(b, c, now)
			continue
		}
		if y > bestYield {
			best, bestYield = c, y
		}
	}
	switch {
	case best != nil:
		return best.heap.peek(), best, true
	case firstDue && bestYield > 0 && q.fresh.len() > 0:
		return q.fresh.peek(), nil, true
	case firstDue && bestYield > 0:
		return q.late.peek(), nil, true
	}
	return 0, nil, false
}

// skipClassLocked moves every member of c on to its next requery step, or
// finishes it: their query is not worth a call now.
func (l *Ledger) skipClassLocked(b *book, c *class, now int64) {
	for c.heap.len() > 0 {
		r := c.heap.peek()
		b.queues.detach(b.p, r)
		l.advanceLocked(b, r, now, int(b.p.rec(r).step))
	}
}

// moveStaleLocked moves requeries that waited in their class until their
// next step fell due on to that step, and finishes those whose last step is
// more than lateAfter overdue: requery_after bounds the schedule.
func (l *Ledger) moveStaleLocked(b *book, now int64) {
	ra := b.cfg.RequeryAfter
	for _, c := range b.queues.classes {
		for c.heap.len() > 0 {
			r := c.heap.peek()
			rec := b.p.rec(r)
			k := int(rec.step)
			var staleAt int64
			if k < len(ra) {
				staleAt = rec.seen + int64(ra[k])
			} else {
				staleAt = rec.due + int64(lateAfter)
			}
			if now < staleAt {
				break
			}
			b.queues.detach(b.p, r)
			l.advanceLocked(b, r, now, k)
		}
	}
}

// advanceLocked schedules r's next requery after step done (0: the first
// query), skipping offsets already past (a late query), or finishes it
// when it misses nothing or no requery is left.
func (l *Ledger) advanceLocked(b *book, r ref, now int64, done int) {
	ra := b.cfg.RequeryAfter
	if mask(missingCounts(b.p, r)) != 0 {
		for k := done; k < min(len(ra), 1<<16-1); k++ {
			due := b.p.rec(r).seen + int64(ra[k])
			if due >= now {
				rec := b.p.mut(r)
				rec.step, rec.due = uint16(k+1), due
				b.queues.wait(b.p, r)
				return
			}
		}
	}
	l.finishLocked(b, r)
}

func mask(counts [NumMissing]int) uint8 {
	var m uint8
	for s, n := range counts {
		if n > 0 {
			m |= 1 << s
		}
	}
	return m
}

// Result is what a successful query counted.
type Result struct {
	// New is the number of stage outcomes counted for the first time.
	New int
	// Tried and Revealed are, per stage (and NoTrace), how many instances
	// missed it before the query and how many of those it revealed.
	Tried, Revealed [NumMissing]int
	// More is true while the push stays pending for a later requery.
	More bool
}

// Done counts the stage outcomes of tr not counted before for w's push and
// schedules its next requery, or finishes it.
func (l *Ledger) Done(w Work, tr *timapi.Trace) Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.valid(w)
	if !ok {
		return Result{}
	}
	var res Result
	res.Tried = missingCounts(b.p, w.r)
	if w.Step == 0 {
		res.Tried = [NumMissing]int{}
	}
	res.New = l.countLocked(b, w.r, tr)
	if w.Step > 0 {
		after := missingCounts(b.p, w.r)
		for s := range res.Tried {
			res.Revealed[s] = max(res.Tried[s]-after[s], 0)
		}
	}
	b.p.mut(w.r).failures = 0
	l.advanceLocked(b, w.r, l.clock.Now().UnixNano(), w.Step)
	rec := b.p.rec(w.r)
	res.More = rec.flags&flagLive != 0 && rec.seq == w.seq
	return res
}

// Retry puts w back in line for at, one more failed round counted; it
// returns the failures so far.
func (l *Ledger) Retry(w Work, at time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.valid(w)
	if !ok {
		return 0
	}
	rec := b.p.mut(w.r)
	rec.failures = min(rec.failures+1, 255)
	rec.due = at.UnixNano()
	b.queues.wait(b.p, w.r)
	return int(rec.failures)
}

// Requeue puts w back in line unchanged: the call did not happen (shutting
// down, the app paused).
func (l *Ledger) Requeue(w Work) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.valid(w); ok {
		b.queues.wait(b.p, w.r)
	}
}

// Drop gives w up and counts it under reason
// (timpush_exporter_pushids_dropped_total).
func (l *Ledger) Drop(w Work, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.valid(w); ok {
		l.dropLocked(b, w.r, reason)
	}
}

// valid finds w's book and checks w is still the taken record (its app may
// have been removed meanwhile).
func (l *Ledger) valid(w Work) (*book, bool) {
	b := l.books[w.App]
	if b == nil || int(w.r) >= len(b.p.recs) {
		return nil, false
	}
	rec := b.p.rec(w.r)
	return b, rec.flags&flagLive != 0 && rec.seq == w.seq && rec.where == inNone
}

package collector

import (
	"container/heap"
	"time"
)

// entry is one sampled PushID still being traced. A backlog holds up to
// max_pending of them, so it is kept to 48 bytes, its own size class:
// times as Unix nanoseconds, small counters, and the instances behind a
// pointer that stays nil for the many entries never queried.
type entry struct {
	pushID    string
	seen      int64            // Unix nanoseconds
	due       int64            // Unix nanoseconds
	instances *[]instanceState // nil until a trace names an instance

	heapIndex int32  // position in its heap; -1 when in none
	step      uint16 // 0: the first query is next; i > 0: requery_after[i-1] is next
	failures  uint8  // consecutive query rounds that ended in an error (< Options.MaxFailures)
	unqueried bool   // in queue.unqueried and never taken for a query
}

// instanceList returns e's instances.
func (e *entry) instanceList() []instanceState {
	if e.instances == nil {
		return nil
	}
	return *e.instances
}

// instanceState remembers which stages of one IM instance were counted, so
// a stage is counted once however often the push is queried.
type instanceState struct {
	id        string
	platform  int16  // PushPlatform
	counted   uint16 // bit s: stage s counted; bitInstance: the instance itself counted
	succeeded uint16 // bit s: stage s counted as a success
}

const bitInstance = 1 << 15

// lateAfter is how long due work is served in order. Work due longer ago
// than that is late: it is served only when nothing fresher is due,
// freshest first. So a budget that keeps up serves every PushID within
// about a minute of its due time, and one that cannot keep up spends its
// calls on fresh PushIDs, keeping alerts timely, instead of on a backlog.
const lateAfter = time.Minute

// queue holds an app's pending PushIDs in three heaps: waiting (not yet
// due, earliest first), ready (due within lateAfter, earliest first) and
// late (due longer ago, latest first). Entries never queried are also kept
// in arrival order, so that a full queue drops the oldest of them.
type queue struct {
	entries map[string]*entry
	waiting dueHeap
	ready   dueHeap
	late    dueHeap

	// unqueried is in arrival order. An entry queried or removed stays in
	// it, marked, until it reaches the front or the slice is compacted
	// (when half of it is such): O(1) amortised, and 8 bytes an entry
	// where a container/list element took 48.
	unqueried []*entry
	stale     int // entries in unqueried no longer unqueried
}

func newQueue() *queue {
	earliest := func(a, b *entry) bool { return a.due < b.due }
	return &queue{
		entries: map[string]*entry{},
		waiting: dueHeap{less: earliest},
		ready:   dueHeap{less: earliest},
		late:    dueHeap{less: func(a, b *entry) bool { return a.due > b.due }},
	}
}

func (q *queue) len() int { return len(q.entries) }

// add inserts a new entry (or one restored from the state file).
func (q *queue) add(e *entry) {
	q.entries[e.pushID] = e
	if e.step == 0 {
		e.unqueried = true
		q.unqueried = append(q.unqueried, e)
	}
	e.heapIndex = -1
	heap.Push(&q.waiting, e)
}

// schedule puts an entry that is neither waiting nor ready back in line.
func (q *queue) schedule(e *entry) {
	heap.Push(&q.waiting, e)
}

// remove forgets an entry entirely.
func (q *queue) remove(e *entry) {
	q.detach(e)
	q.queried(e)
	delete(q.entries, e.pushID)
}

// detach takes e out of the heap it is in, if any.
func (q *queue) detach(e *entry) {
	if e.heapIndex < 0 {
		return
	}
	for _, h := range [...]*dueHeap{&q.waiting, &q.ready, &q.late} {
		if i := int(e.heapIndex); i < len(h.items) && h.items[i] == e {
			heap.Remove(h, i)
			return
		}
	}
}

// queried marks e as no longer unqueried.
func (q *queue) queried(e *entry) {
	if !e.unqueried {
		return
	}
	e.unqueried = false
	q.stale++
	if 2*q.stale > len(q.unqueried) {
		live := make([]*entry, 0, len(q.unqueried)-q.stale)
		for _, u := range q.unqueried {
			if u.unqueried {
				live = append(live, u)
			}
		}
		q.unqueried, q.stale = live, 0
	}
}

// next returns the entry to query now, taking it out of line (the caller
// queries it and then calls schedule or remove), or the time at which the
// next entry falls due.
func (q *queue) next(now time.Time) (*entry, time.Time) {
	t := now.UnixNano()
	for q.waiting.Len() > 0 && q.waiting.items[0].due <= t {
		heap.Push(&q.ready, heap.Pop(&q.waiting))
	}
	lateBefore := t - int64(lateAfter)
	for q.ready.Len() > 0 && q.ready.items[0].due < lateBefore {
		heap.Push(&q.late, heap.Pop(&q.ready))
	}
	var e *entry
	switch {
	case q.ready.Len() > 0:
		e = heap.Pop(&q.ready).(*entry)
	case q.late.Len() > 0:
		e = heap.Pop(&q.late).(*entry)
	case q.waiting.Len() > 0:
		return nil, time.Unix(0, q.waiting.items[0].due)
	default:
		return nil, time.Time{}
	}
	q.queried(e)
	return e, time.Time{}
}

// oldestUnqueried is the entry a full queue drops.
func (q *queue) oldestUnqueried() *entry {
	for len(q.unqueried) > 0 {
		if e := q.unqueried[0]; e.unqueried {
			return e
		}
		q.unqueried[0] = nil // the backing array must not keep it alive
		q.unqueried = q.unqueried[1:]
		q.stale--
	}
	return nil
}

// dueHeap implements heap.Interface over entries, keeping heapIndex current.
type dueHeap struct {
	items []*entry
	less  func(a, b *entry) bool
}

func (h dueHeap) Len() int           { return len(h.items) }
func (h dueHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h dueHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIndex = int32(i)
	h.items[j].heapIndex = int32(j)
}

func (h *dueHeap) Push(x any) {
	e := x.(*entry)
	e.heapIndex = int32(len(h.items))
	h.items = append(h.items, e)
}

func (h *dueHeap) Pop() any {
	n := len(h.items)
	e := h.items[n-1]
	h.items[n-1] = nil
	h.items = h.items[:n-1]
	e.heapIndex = -1
	return e
}

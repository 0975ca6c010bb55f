package collector

import (
	"container/heap"
	"container/list"
	"time"
)

// entry is one sampled PushID still being traced.
type entry struct {
	pushID    string
	seen      time.Time
	step      int // 0: the first query is next; i > 0: requery_after[i-1] is next
	due       time.Time
	failures  int // consecutive query rounds that ended in an error
	instances []instanceState

	heapIndex int           // position in its heap; -1 when in none
	heap      *dueHeap      // the heap heapIndex refers to
	unqueried *list.Element // position in queue.unqueried while step == 0 and not yet queried
	inFlight  bool
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
	entries   map[string]*entry
	waiting   dueHeap
	ready     dueHeap
	late      dueHeap
	unqueried *list.List
}

func newQueue() *queue {
	earliest := func(a, b *entry) bool { return a.due.Before(b.due) }
	return &queue{
		entries:   map[string]*entry{},
		waiting:   dueHeap{less: earliest},
		ready:     dueHeap{less: earliest},
		late:      dueHeap{less: func(a, b *entry) bool { return a.due.After(b.due) }},
		unqueried: list.New(),
	}
}

func (q *queue) len() int { return len(q.entries) }

// add inserts a new entry (or one restored from the state file).
func (q *queue) add(e *entry) {
	q.entries[e.pushID] = e
	if e.step == 0 {
		e.unqueried = q.unqueried.PushBack(e)
	}
	e.heapIndex = -1
	heap.Push(&q.waiting, e)
}

// schedule puts an entry that is neither waiting nor ready back in line.
func (q *queue) schedule(e *entry) {
	e.inFlight = false
	heap.Push(&q.waiting, e)
}

// remove forgets an entry entirely.
func (q *queue) remove(e *entry) {
	q.detach(e)
	if e.unqueried != nil {
		q.unqueried.Remove(e.unqueried)
		e.unqueried = nil
	}
	delete(q.entries, e.pushID)
}

func (q *queue) detach(e *entry) {
	if e.heapIndex >= 0 {
		heap.Remove(e.heap, e.heapIndex)
	}
}

// next returns the entry to query now, taking it out of line (the caller
// queries it and then calls schedule or remove), or the time at which the
// next entry falls due.
func (q *queue) next(now time.Time) (*entry, time.Time) {
	for q.waiting.Len() > 0 && !q.waiting.items[0].due.After(now) {
		heap.Push(&q.ready, heap.Pop(&q.waiting))
	}
	lateBefore := now.Add(-lateAfter)
	for q.ready.Len() > 0 && q.ready.items[0].due.Before(lateBefore) {
		heap.Push(&q.late, heap.Pop(&q.ready))
	}
	var e *entry
	switch {
	case q.ready.Len() > 0:
		e = heap.Pop(&q.ready).(*entry)
	case q.late.Len() > 0:
		e = heap.Pop(&q.late).(*entry)
	case q.waiting.Len() > 0:
		return nil, q.waiting.items[0].due
	default:
		return nil, time.Time{}
	}
	e.inFlight = true
	if e.unqueried != nil {
		q.unqueried.Remove(e.unqueried)
		e.unqueried = nil
	}
	return e, time.Time{}
}

// oldestUnqueried is the entry a full queue drops.
func (q *queue) oldestUnqueried() *entry {
	if f := q.unqueried.Front(); f != nil {
		return f.Value.(*entry)
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
	h.items[i].heapIndex = i
	h.items[j].heapIndex = j
}

func (h *dueHeap) Push(x any) {
	e := x.(*entry)
	e.heapIndex = len(h.items)
	e.heap = h
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

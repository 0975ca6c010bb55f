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

	heapIndex int           // position in the waiting or ready heap; -1 when in neither
	inReady   bool          // which heap heapIndex refers to
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

// queue holds an app's pending PushIDs. Entries wait in a min-heap by due
// time; once due they move to a max-heap by due time, so that when the call
// budget cannot keep up the freshest work is done first and alerts stay
// timely. Entries never queried are also kept in arrival order, so that a
// full queue drops the oldest of them.
type queue struct {
	entries   map[string]*entry
	waiting   dueHeap
	ready     dueHeap
	unqueried *list.List
}

func newQueue() *queue {
	return &queue{
		entries:   map[string]*entry{},
		waiting:   dueHeap{less: func(a, b *entry) bool { return a.due.Before(b.due) }},
		ready:     dueHeap{less: func(a, b *entry) bool { return a.due.After(b.due) }, ready: true},
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
	if e.heapIndex < 0 {
		return
	}
	if e.inReady {
		heap.Remove(&q.ready, e.heapIndex)
	} else {
		heap.Remove(&q.waiting, e.heapIndex)
	}
}

// next returns the freshest due entry, taking it out of line (the caller
// queries it and then calls schedule or remove), or the time at which the
// next entry falls due.
func (q *queue) next(now time.Time) (*entry, time.Time) {
	for q.waiting.Len() > 0 && !q.waiting.items[0].due.After(now) {
		e := heap.Pop(&q.waiting).(*entry)
		heap.Push(&q.ready, e)
	}
	if q.ready.Len() > 0 {
		e := heap.Pop(&q.ready).(*entry)
		e.inFlight = true
		if e.unqueried != nil {
			q.unqueried.Remove(e.unqueried)
			e.unqueried = nil
		}
		return e, time.Time{}
	}
	if q.waiting.Len() > 0 {
		return nil, q.waiting.items[0].due
	}
	return nil, time.Time{}
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
	ready bool
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
	e.inReady = h.ready
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

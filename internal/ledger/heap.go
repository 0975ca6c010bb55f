package ledger

// refHeap is a binary heap of records ordered by due time, earliest first
// (or latest first when latest is set), ties in arrival order. It keeps each
// member's record.heapPos current, so that any member can be removed in
// O(log n). It holds indexes, not pointers: the garbage collector has
// nothing to scan in it.
type refHeap struct {
	refs   []ref
	latest bool
}

func (h *refHeap) len() int { return len(h.refs) }

func (h *refHeap) peek() ref { return h.refs[0] }

func (h *refHeap) less(p *pending, a, b ref) bool {
	ra, rb := &p.recs[a], &p.recs[b]
	if ra.due != rb.due {
		return (ra.due < rb.due) != h.latest
	}
	return ra.seq < rb.seq
}

func (h *refHeap) push(p *pending, r ref) {
	h.refs = append(h.refs, r)
	p.recs[r].heapPos = uint32(len(h.refs) - 1)
	h.up(p, len(h.refs)-1)
}

func (h *refHeap) pop(p *pending) ref {
	r := h.refs[0]
	h.removeAt(p, 0)
	return r
}

// remove takes r, a member, out of the heap.
func (h *refHeap) remove(p *pending, r ref) { h.removeAt(p, int(p.recs[r].heapPos)) }

func (h *refHeap) removeAt(p *pending, i int) {
	last := len(h.refs) - 1
	if i != last {
		h.swap(p, i, last)
	}
	h.refs = h.refs[:last]
	if i != last {
		if !h.down(p, i) {
			h.up(p, i)
		}
	}
	if cap(h.refs) > 1024 && 4*len(h.refs) < cap(h.refs) {
		h.refs = append([]ref(nil), h.refs...) // give back what a burst grew
	}
}

// init orders refs, a slice of records in any order, in O(n).
func (h *refHeap) init(p *pending, refs []ref) {
	h.refs = refs
	for i, r := range refs {
		p.recs[r].heapPos = uint32(i)
	}
	for i := len(refs)/2 - 1; i >= 0; i-- {
		h.down(p, i)
	}
}

func (h *refHeap) swap(p *pending, i, j int) {
	h.refs[i], h.refs[j] = h.refs[j], h.refs[i]
	p.recs[h.refs[i]].heapPos = uint32(i)
	p.recs[h.refs[j]].heapPos = uint32(j)
}

func (h *refHeap) up(p *pending, i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(p, h.refs[i], h.refs[parent]) {
			return
		}
		h.swap(p, i, parent)
		i = parent
	}
}

func (h *refHeap) down(p *pending, i int) bool {
	start, n := i, len(h.refs)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(p, h.refs[r], h.refs[l]) {
			m = r
		}
		if !h.less(p, h.refs[m], h.refs[i]) {
			break
		}
		h.swap(p, i, m)
		i = m
	}
	return i > start
}

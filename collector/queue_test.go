package collector

import (
	"fmt"
	"testing"
	"time"
	"unsafe"
)

// TestEntrySize guards the size class: a backlog holds up to max_pending
// entries, and one more field would make each 16 bytes larger.
func TestEntrySize(t *testing.T) {
	if s := unsafe.Sizeof(entry{}); s > 48 {
		t.Fatalf("entry is %d bytes, want at most 48", s)
	}
}

// TestQueueDropsOldestUnqueried: a full queue drops the oldest entry never
// taken for a query, whatever was queried or removed in between, and the
// arrival-order slice does not grow with entries no longer in it.
func TestQueueDropsOldestUnqueried(t *testing.T) {
	q := newQueue()
	at := t0.UnixNano()
	add := func(id string, due int64) *entry {
		e := &entry{pushID: id, seen: at, due: due}
		q.add(e)
		return e
	}
	// p0 falls due first and is queried; it is rescheduled with step 0 (a
	// config error), so it is no longer a candidate.
	add("p0", at)
	for i := 1; i <= 5; i++ {
		add(fmt.Sprintf("p%d", i), at+int64(time.Hour))
	}
	e, _ := q.next(t0)
	if e == nil || e.pushID != "p0" {
		t.Fatalf("next = %v, want p0", e)
	}
	q.schedule(e)
	q.remove(q.entries["p2"])
	for _, want := range []string{"p1", "p3", "p4", "p5"} {
		old := q.oldestUnqueried()
		if old == nil || old.pushID != want {
			t.Fatalf("oldest unqueried = %v, want %s", old, want)
		}
		q.remove(old)
	}
	if old := q.oldestUnqueried(); old != nil {
		t.Fatalf("oldest unqueried = %s, want none (p0 was queried)", old.pushID)
	}
	if q.len() != 1 || q.entries["p0"] == nil {
		t.Fatalf("entries %v, want p0 only", q.entries)
	}

	// Entries queried in arrival order never reach the front by dropping;
	// compaction bounds what they leave behind.
	for i := range 10_000 {
		add(fmt.Sprintf("q%d", i), at)
		if e, _ := q.next(t0); e != nil {
			q.remove(e)
		}
		if n := len(q.unqueried); n > 2*(q.len()+1) {
			t.Fatalf("after %d entries: %d in the arrival-order slice for %d pending", i+1, n, q.len())
		}
	}
}

package ledger

import (
	"encoding/binary"
	"time"
)

// timeSet remembers 64-bit keys by the time slot (an hour, or a minute)
// they belong to, for a bounded time and a bounded number of keys: the
// dedup sets of sampled PushIDs (by hour) and of callback events (by
// minute). Forgetting goes by whole slots, oldest first, so that the state
// file drops them with one range delete (keys are slot-ordered there). It
// holds no pointers.
type timeSet struct {
	seen    map[uint64]uint32 // key -> slot
	perSlot map[uint32]int
	unit    int64 // seconds per slot
	max     int
	keep    time.Duration
	// floor is the first slot still remembered in full: keys of earlier
	// slots may have been forgotten.
	floor uint32
	// Not yet saved:
	added   []slotKey
	evicted []uint32 // forget every slot below each value
}

type slotKey struct {
	key  uint64
	slot uint32
}

func newTimeSet(unit time.Duration, max int, keep time.Duration) *timeSet {
	return &timeSet{seen: map[uint64]uint32{}, perSlot: map[uint32]int{}, unit: int64(unit / time.Second), max: max, keep: keep}
}

// slot is the slot of t (times before 1970 share slot 0).
func (s *timeSet) slot(t time.Time) uint32 { return uint32(max(t.Unix(), 0) / s.unit) }

// add records key under the slot of at and reports whether it is new.
func (s *timeSet) add(key uint64, at time.Time) bool {
	if _, ok := s.seen[key]; ok {
		return false
	}
	h := s.slot(at)
	s.seen[key] = h
	s.perSlot[h]++
	s.added = append(s.added, slotKey{key, h})
	if len(s.seen) > s.max {
		s.forgetBelow(s.oldestSlot() + 1)
	}
	return true
}

// reserve makes room for n keys, before a restore adds them.
func (s *timeSet) reserve(n int) {
	if len(s.seen) == 0 && n > 0 {
		s.seen = make(map[uint64]uint32, n)
	}
}

// restore loads a saved key.
func (s *timeSet) restore(key uint64, slot uint32) {
	if _, ok := s.seen[key]; !ok {
		s.seen[key] = slot
		s.perSlot[slot]++
	}
}

func (s *timeSet) oldestSlot() uint32 {
	first := true
	var oldest uint32
	for h := range s.perSlot {
		if first || h < oldest {
			oldest, first = h, false
		}
	}
	return oldest
}

// expire forgets every slot that began more than keep ago.
func (s *timeSet) expire(now time.Time) {
	cut := s.slot(now.Add(-s.keep))
	for h := range s.perSlot {
		if h < cut {
			s.forgetBelow(cut)
			return
		}
	}
	s.floor = max(s.floor, cut)
}

// forgetBelow drops every key of a slot before limit.
func (s *timeSet) forgetBelow(limit uint32) {
	for k, h := range s.seen {
		if h < limit {
			delete(s.seen, k)
		}
	}
	for h := range s.perSlot {
		if h < limit {
			delete(s.perSlot, h)
		}
	}
	s.floor = max(s.floor, limit)
	s.evicted = append(s.evicted, limit)
}

// storeKey is app \x00 slot (4 bytes, big endian) key (8): slot-ordered,
// so that old slots are deleted with one range delete.
func (k slotKey) storeKey(app string) []byte {
	b := append([]byte(app), 0)
	b = binary.BigEndian.AppendUint32(b, k.slot)
	return binary.BigEndian.AppendUint64(b, k.key)
}

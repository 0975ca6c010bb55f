package collector

import (
	"encoding/binary"
	"time"
)

// retention is how long Tencent keeps traces, and so how long a PushID is
// worth remembering.
const retention = 7 * 24 * time.Hour

// dedup remembers the sampled PushIDs of the last seven days by hash and
// the hour they were first seen, so that a PushID seen twice (a log line
// replayed after a restart, a webhook retried) is traced and counted once.
// 64-bit hashes make a false "seen before" about 1 in 10^7 at a million
// entries; that PushID is then not traced, which sampling tolerates.
// Memory is bounded by max entries: when full, the oldest hour is forgotten.
type dedup struct {
	seen    map[uint64]uint32 // hash -> unix hour first seen
	perHour map[uint32]int
	max     int
	added   []dedupKey // not yet saved
	evicted []uint32   // hours forgotten and not yet deleted from the state file (all hours below each value)
}

type dedupKey struct {
	hash uint64
	hour uint32
}

func newDedup(max int) *dedup {
	return &dedup{seen: map[uint64]uint32{}, perHour: map[uint32]int{}, max: max}
}

func unixHour(t time.Time) uint32 { return uint32(t.Unix() / 3600) }

// add records hash and reports whether it is new.
func (d *dedup) add(hash uint64, now time.Time) bool {
	if _, ok := d.seen[hash]; ok {
		return false
	}
	h := unixHour(now)
	d.seen[hash] = h
	d.perHour[h]++
	d.added = append(d.added, dedupKey{hash, h})
	if len(d.seen) > d.max {
		d.forgetBelow(d.oldestHour() + 1)
	}
	return true
}

// restore loads a saved entry.
func (d *dedup) restore(hash uint64, hour uint32) {
	if _, ok := d.seen[hash]; !ok {
		d.seen[hash] = hour
		d.perHour[hour]++
	}
}

func (d *dedup) oldestHour() uint32 {
	first := true
	var min uint32
	for h := range d.perHour {
		if first || h < min {
			min, first = h, false
		}
	}
	return min
}

// expire forgets everything first seen more than the retention ago.
func (d *dedup) expire(now time.Time) {
	cut := unixHour(now.Add(-retention))
	for h := range d.perHour {
		if h < cut {
			d.forgetBelow(cut)
			return
		}
	}
}

// forgetBelow drops every hash first seen before hour limit.
func (d *dedup) forgetBelow(limit uint32) {
	for k, h := range d.seen {
		if h < limit {
			delete(d.seen, k)
		}
	}
	for h := range d.perHour {
		if h < limit {
			delete(d.perHour, h)
		}
	}
	d.evicted = append(d.evicted, limit)
}

// dedupStoreKey is app \x00 hour(4, big endian) hash(8): hour-ordered, so
// old hours are deleted with one range delete.
func dedupStoreKey(app string, k dedupKey) []byte {
	b := append([]byte(app), 0)
	b = binary.BigEndian.AppendUint32(b, k.hour)
	return binary.BigEndian.AppendUint64(b, k.hash)
}

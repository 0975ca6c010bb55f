package ledger

import (
	"bytes"
	"math"
	"slices"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// ref names a pending record: its slot in pending.recs. Slots are reused;
// a record's seq tells a reused slot from the one a caller remembers.
type ref uint32

// Where a record is: in none of the queues (taken for a query), or in one.
const (
	inNone uint8 = iota
	inWaiting
	inFresh
	inLate
	inClass
)

// record is one sampled PushID still being traced. A million of them may be
// pending, so a record holds no pointers (the garbage collector skips the
// slice) and fits 48 bytes: the PushID and the instances' IDs live in a
// shared byte arena, the instances in a slab, and every link is an index.
type record struct {
	seen, due int64  // Unix nanoseconds
	seq       uint64 // arrival order, unique per app for the life of the state file
	idOff     uint32 // the PushID: arena[idOff : idOff+idLen]
	insts     uint32 // instances: slab[insts : insts+nInsts]
	heapPos   uint32 // position in the queue it is in
	class     uint16 // requery class, when where == inClass
	step      uint16 // 0: the first query is next; k: requery_after[k-1] is next
	idLen     uint8
	nInsts    uint8
	failures  uint8 // consecutive query rounds that ended in an error
	where     uint8
	flags     uint8
}

// Record flags.
const (
	flagLive      = 1 << iota // the slot holds a record
	flagUnqueried             // never taken for a query: queue_full may drop it
	flagSaved                 // a checkpoint wrote it: removing it must delete it
)

// instance remembers which stages of one IM instance were counted, so that a
// stage is counted once however often the push is queried.
type instance struct {
	idOff     uint32 // the instance ID in the arena
	idLen     uint8
	platform  int16  // PushPlatform
	counted   uint16 // bit s: stage s counted; bitInstance: the instance itself
	succeeded uint16 // bit s: stage s counted as a success
}

const bitInstance = 1 << 15

// maxInstances bounds the instances remembered per push: Tencent lists one
// per login of the recipient, a handful. Beyond it, further instances are
// still counted, but each time they are seen (an abuse case, not a push).
const maxInstances = math.MaxUint8

// pending holds one app's records. It is not safe for concurrent use.
type pending struct {
	recs  []record
	free  []ref
	byID  map[uint64]ref // by pushid.Hash; the dedup set keeps hashes unique
	arena []byte
	slab  []instance
	// garbage counts the arena bytes and slab entries no record uses.
	arenaGarbage, slabGarbage int
	// dirty are the records changed since the last checkpoint; gone are
	// the state-file keys of saved records removed since then.
	dirty map[ref]struct{}
	gone  [][]byte
	app   string
}

func newPending(app string) *pending {
	return &pending{byID: map[uint64]ref{}, dirty: map[ref]struct{}{}, app: app}
}

func (p *pending) len() int { return len(p.byID) }

// reserve makes room for n more records whose PushIDs total idBytes, so
// that adding them allocates nothing but their map entries (see
// restoring.reserve).
func (p *pending) reserve(n, idBytes int) {
	p.recs = slices.Grow(p.recs, n)
	p.arena = slices.Grow(p.arena, idBytes)
	if len(p.byID) == 0 && n > 0 {
		p.byID = make(map[uint64]ref, n)
	}
}

// add makes a record for pushID, or returns false when a record with the
// same hash exists.
func (p *pending) add(pushID string, hash uint64, seen, due int64, seq uint64) (ref, bool) {
	return addRecord(p, pushID, hash, seen, due, seq)
}

// addBytes is add for a PushID read from the state file: a string
// conversion would allocate each of a million IDs once more on restore.
func (p *pending) addBytes(pushID []byte, hash uint64, seen, due int64, seq uint64) (ref, bool) {
	return addRecord(p, pushID, hash, seen, due, seq)
}

func addRecord[ID string | []byte](p *pending, pushID ID, hash uint64, seen, due int64, seq uint64) (ref, bool) {
	if _, dup := p.byID[hash]; dup {
		return 0, false
	}
	rec := record{seen: seen, due: due, seq: seq, flags: flagLive | flagUnqueried,
		idOff: uint32(len(p.arena)), idLen: uint8(min(len(pushID), math.MaxUint8))}
	p.arena = append(p.arena, pushID[:rec.idLen]...)
	var r ref
	if n := len(p.free); n > 0 {
		r = p.free[n-1]
		p.free = p.free[:n-1]
		p.recs[r] = rec
	} else {
		r = ref(len(p.recs))
		p.recs = append(p.recs, rec)
	}
	p.byID[hash] = r
	p.dirty[r] = struct{}{}
	return r, true
}

// lookup finds the record of pushID.
func (p *pending) lookup(pushID string, hash uint64) (ref, bool) {
	r, ok := p.byID[hash]
	if !ok || string(p.idBytes(r)) != pushID {
		return 0, false
	}
	return r, true
}

// rec returns the record for reading. Changes go through mut.
func (p *pending) rec(r ref) *record { return &p.recs[r] }

// mut returns the record for changing and marks it for the next
// checkpoint: the one way to change a record, so none is forgotten. The
// pointer is valid until the next add.
func (p *pending) mut(r ref) *record {
	p.dirty[r] = struct{}{}
	return &p.recs[r]
}

func (p *pending) idBytes(r ref) []byte {
	rec := &p.recs[r]
	return p.arena[rec.idOff : rec.idOff+uint32(rec.idLen)]
}

func (p *pending) pushID(r ref) string { return string(p.idBytes(r)) }

// remove forgets a record; a saved one is deleted at the next checkpoint.
func (p *pending) remove(r ref) {
	rec := &p.recs[r]
	if rec.flags&flagSaved != 0 {
		p.gone = append(p.gone, pendingKey(p.app, p.idBytes(r)))
	}
	delete(p.byID, pushid.HashBytes(p.idBytes(r)))
	delete(p.dirty, r)
	p.arenaGarbage += int(rec.idLen)
	for _, in := range p.instances(r) {
		p.arenaGarbage += int(in.idLen)
	}
	p.slabGarbage += int(rec.nInsts)
	p.recs[r] = record{}
	p.free = append(p.free, r)
	p.compact()
}

// instances returns r's instances, valid until the next change.
func (p *pending) instances(r ref) []instance {
	rec := &p.recs[r]
	return p.slab[rec.insts : rec.insts+uint32(rec.nInsts)]
}

// instance returns the index among r's instances of the one with id,
// adding it when it is new; -1 when r already has maxInstances.
func (p *pending) instance(r ref, id string) int {
	id = id[:min(len(id), math.MaxUint8)] // longer IDs are told apart by their first 255 bytes
	for i, in := range p.instances(r) {
		if string(p.arena[in.idOff:in.idOff+uint32(in.idLen)]) == id {
			return i
		}
	}
	rec := p.mut(r)
	if rec.nInsts == maxInstances {
		return -1
	}
	in := instance{idOff: uint32(len(p.arena)), idLen: uint8(len(id))}
	p.arena = append(p.arena, id...)
	// A record's instances are contiguous: unless they end the slab, move
	// them to its end first.
	end := rec.insts + uint32(rec.nInsts)
	if rec.nInsts > 0 && end != uint32(len(p.slab)) {
		p.slab = append(p.slab, p.slab[rec.insts:end]...)
		p.slabGarbage += int(rec.nInsts)
		rec.insts = uint32(len(p.slab)) - uint32(rec.nInsts)
	} else if rec.nInsts == 0 {
		rec.insts = uint32(len(p.slab))
	}
	p.slab = append(p.slab, in)
	rec.nInsts++
	return int(rec.nInsts) - 1
}

// setInstance stores what was counted of r's i-th instance (its ID stays).
func (p *pending) setInstance(r ref, i int, in instance) {
	p.dirty[r] = struct{}{}
	s := &p.slab[p.recs[r].insts+uint32(i)]
	s.platform, s.counted, s.succeeded = in.platform, in.counted, in.succeeded
}

// restoreInstances gives a record read from the state file its instances.
func (p *pending) restoreInstances(r ref, ids [][]byte, ins []instance) {
	rec := &p.recs[r]
	rec.insts, rec.nInsts = uint32(len(p.slab)), uint8(len(ins))
	for i := range ins {
		ins[i].idOff, ins[i].idLen = uint32(len(p.arena)), uint8(len(ids[i]))
		p.arena = append(p.arena, ids[i]...)
	}
	p.slab = append(p.slab, ins...)
}

// compact rewrites the arena and the slab once most of them is garbage:
// amortised O(1) per removal, and memory stays proportional to what is
// pending.
func (p *pending) compact() {
	if p.arenaGarbage < 1<<16 || 2*p.arenaGarbage < len(p.arena) {
		if p.slabGarbage < 1<<12 || 2*p.slabGarbage < len(p.slab) {
			return
		}
	}
	arena := make([]byte, 0, len(p.arena)-p.arenaGarbage)
	slab := make([]instance, 0, len(p.slab)-p.slabGarbage)
	for r := range p.recs {
		rec := &p.recs[r]
		if rec.flags&flagLive == 0 {
			continue
		}
		off := uint32(len(arena))
		arena = append(arena, p.arena[rec.idOff:rec.idOff+uint32(rec.idLen)]...)
		rec.idOff = off
		first := uint32(len(slab))
		for _, in := range p.slab[rec.insts : rec.insts+uint32(rec.nInsts)] {
			id := p.arena[in.idOff : in.idOff+uint32(in.idLen)]
			in.idOff = uint32(len(arena))
			arena = append(arena, id...)
			slab = append(slab, in)
		}
		rec.insts = first
	}
	p.arena, p.slab = arena, slab
	p.arenaGarbage, p.slabGarbage = 0, 0
}

// pendingKey is a record's key in the state file: app \x00 PushID.
func pendingKey(app string, pushID []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(app) + 1 + len(pushID))
	b.WriteString(app)
	b.WriteByte(0)
	b.Write(pushID)
	return b.Bytes()
}

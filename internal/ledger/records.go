package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// This file is the state file's format: every bucket, key and value the
// ledger writes, and the versions it reads. Change a record here, bump its
// version, and keep reading the old one.

// Buckets of the state file.
const (
	bucketPending = "pending" // app \x00 PushID -> pending record (v1 read, v2 written)
	bucketDedup   = "dedup"   // app \x00 hour (4) PushID hash (8) -> empty
	bucketEvents  = "events"  // app \x00 minute (4) event key (8) -> empty
	bucketSeries  = "series"  // series key -> counter or histogram
	bucketCursors = "cursors" // source cursor key -> opaque value
)

// Pending record versions. v1 (before arrival order was kept): seen, due,
// step, failures, instances. v2 adds seq, the arrival order, first.
const (
	pendingV1 = 1
	pendingV2 = 2
)

// savedRecord is a pending record as the state file holds it.
type savedRecord struct {
	seq           uint64
	seen, due     int64
	step          uint16
	failures      uint8
	instanceIDs   [][]byte
	instanceState []instance // idOff/idLen unset
}

// encodePending writes r's record (v2).
func (p *pending) encodePending(r ref) []byte {
	rec := p.rec(r)
	ins := p.instances(r)
	b := make([]byte, 0, 40+len(ins)*24)
	b = binary.AppendUvarint(b, pendingV2)
	b = binary.AppendUvarint(b, rec.seq)
	b = binary.AppendVarint(b, rec.seen)
	b = binary.AppendVarint(b, rec.due)
	b = binary.AppendUvarint(b, uint64(rec.step))
	b = binary.AppendUvarint(b, uint64(rec.failures))
	b = binary.AppendUvarint(b, uint64(len(ins)))
	for _, in := range ins {
		b = binary.AppendUvarint(b, uint64(in.idLen))
		b = append(b, p.arena[in.idOff:in.idOff+uint32(in.idLen)]...)
		b = binary.AppendVarint(b, int64(in.platform))
		b = binary.AppendUvarint(b, uint64(in.counted))
		b = binary.AppendUvarint(b, uint64(in.succeeded))
	}
	return b
}

var errBadRecord = errors.New("malformed pending record")

// decodePending reads a v1 or v2 record. The slices in the result point
// into b.
func decodePending(b []byte) (savedRecord, error) {
	r := &reader{b: b}
	var s savedRecord
	switch v := r.uvarint(); v {
	case pendingV1:
	case pendingV2:
		s.seq = r.uvarint()
	default:
		return s, fmt.Errorf("%w: version %d", errBadRecord, v)
	}
	s.seen = r.varint()
	s.due = r.varint()
	step, failures := r.uvarint(), r.uvarint()
	if step > math.MaxUint16 || failures > math.MaxUint8 {
		return s, fmt.Errorf("%w: step %d, failures %d", errBadRecord, step, failures)
	}
	s.step, s.failures = uint16(step), uint8(failures)
	n := r.uvarint()
	if n > maxInstances {
		return s, fmt.Errorf("%w: %d instances", errBadRecord, n)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		idLen := r.uvarint()
		if idLen > math.MaxUint8 {
			return s, fmt.Errorf("%w: instance ID of %d bytes", errBadRecord, idLen)
		}
		s.instanceIDs = append(s.instanceIDs, r.bytes(int(idLen)))
		s.instanceState = append(s.instanceState, instance{
			platform:  int16(r.varint()),
			counted:   uint16(r.uvarint()),
			succeeded: uint16(r.uvarint()),
		})
	}
	if r.err != nil || len(r.b) != 0 {
		return s, errBadRecord
	}
	return s, nil
}

// splitPendingKey splits app \x00 PushID.
func splitPendingKey(k []byte) (app, pushID []byte, ok bool) {
	return bytes.Cut(k, []byte{0})
}

// splitSlotKey splits app \x00 slot (4) key (8).
func splitSlotKey(k []byte) (app []byte, slot uint32, key uint64, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k)-i-1 != 12 {
		return nil, 0, 0, false
	}
	rest := k[i+1:]
	return k[:i], binary.BigEndian.Uint32(rest), binary.BigEndian.Uint64(rest[4:]), true
}

// reader decodes varints, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errBadRecord, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errBadRecord, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.err, r.b = errBadRecord, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// Series records: the key is the metric's number as one character and the
// label values, separated by \xff (which UTF-8 label values never hold); a
// counter is 8 bytes (float64 bits), a histogram its count, sum and
// cumulative bucket counts.
// encodeKey and decodeKey give the series' key in the state file.
func encodeKey(k seriesKey) []byte {
	return []byte(string(rune('0'+k.metric)) + "\xff" + k.app + "\xff" + k.platform + "\xff" + k.stage + "\xff" + k.extra + "\xff" + k.reason)
}

var errBadSeries = errors.New("malformed series record")

func decodeKey(b []byte) (seriesKey, error) {
	parts := strings.Split(string(b), "\xff")
	if len(parts) != 6 || len(parts[0]) != 1 {
		return seriesKey{}, errBadSeries
	}
	k := seriesKey{metric: metricID(parts[0][0] - '0'), app: parts[1], platform: parts[2], stage: parts[3], extra: parts[4], reason: parts[5]}
	if _, ok := savedDescs[k.metric]; !ok {
		return seriesKey{}, errBadSeries
	}
	return k, nil
}

func encodeCounter(v float64) []byte {
	return binary.BigEndian.AppendUint64(nil, math.Float64bits(v))
}

func encodeHistogram(h *histogram) []byte {
	b := binary.BigEndian.AppendUint64(nil, h.count)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(h.sum))
	for _, c := range h.buckets {
		b = binary.BigEndian.AppendUint64(b, c)
	}
	return b
}

func decodeCounter(b []byte) (float64, error) {
	if len(b) != 8 {
		return 0, errBadSeries
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

func decodeHistogram(b []byte) (*histogram, error) {
	if len(b) != 16+8*len(latencyBuckets) {
		return nil, errBadSeries
	}
	h := &histogram{
		count:   binary.BigEndian.Uint64(b),
		sum:     math.Float64frombits(binary.BigEndian.Uint64(b[8:])),
		buckets: make([]uint64, len(latencyBuckets)),
	}
	for i := range h.buckets {
		h.buckets[i] = binary.BigEndian.Uint64(b[16+8*i:])
	}
	return h, nil
}

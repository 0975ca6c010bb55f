package ledger

import (
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/timpush/timpush_exporter/internal/store"
)

// TestPendingRecordV1 reads records as releases before arrival order wrote
// them (v1), and rewrites them as v2 at the next checkpoint.
func TestPendingRecordV1(t *testing.T) {
	for _, tt := range []struct {
		rec       string
		seen, due time.Time
		step      uint16
		failures  uint8
		instances int
	}{
		{"\x01\xaa\xb4\x96\x85\xb5\xb7\x9d\xeb1\x80\x80\xfd\x9a\xfa\x88\x9f\xeb1\x02\x03\x02\x02i1\x06\x9f\x80\x02\a\x00\x00\x00\x00",
			t0.Add(123456789), t0.Add(time.Hour), 2, 3, 2},
		{"\x01\x80\x80\xb8\x8f\xb4\xb7\x9d\xeb1\x80\xe0\xf2\x93\xf3\xba\x9d\xeb1\x00\x00\x00", t0, t0.Add(time.Minute), 0, 0, 0},
	} {
		s, err := decodePending([]byte(tt.rec))
		if err != nil || s.seen != tt.seen.UnixNano() || s.due != tt.due.UnixNano() || s.step != tt.step ||
			s.failures != tt.failures || len(s.instanceState) != tt.instances {
			t.Errorf("decodePending(%q) = %+v, %v", tt.rec, s, err)
		}
		if tt.instances == 2 && (string(s.instanceIDs[0]) != "i1" || s.instanceState[0].platform != 3 ||
			s.instanceState[0].counted != 0x801f || s.instanceState[0].succeeded != 7) {
			t.Errorf("instance 0 = %q %+v", s.instanceIDs[0], s.instanceState[0])
		}
	}

	// In a state file: restored in arrival (seen) order, rewritten as v2.
	dir := t.TempDir()
	st, _, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := &store.Batch{}
	b.Put(bucketPending, pendingKey("prod", []byte("a-later")), []byte("\x01\xaa\xb4\x96\x85\xb5\xb7\x9d\xeb1\x80\x80\xfd\x9a\xfa\x88\x9f\xeb1\x00\x00\x00"))
	b.Put(bucketPending, pendingKey("prod", []byte("z-first")), []byte("\x01\x80\x80\xb8\x8f\xb4\xb7\x9d\xeb1\x80\xe0\xf2\x93\xf3\xba\x9d\xeb1\x00\x00\x00"))
	if err := st.Commit(b); err != nil {
		t.Fatal(err)
	}
	st.Close()
	h := newHarness(t, dir, func(a *AppConfig) { a.MaxPending = 2 })
	h.offer("new") // the queue is full: the oldest arrival goes
	h.checkpoint()
	if _, ok := h.l.books["prod"].p.lookup("z-first", hashOf("z-first")); ok {
		t.Fatal("z-first, seen first, was not the one dropped")
	}
	h = h.reopen(nil)
	err = h.st.ForEach(bucketPending, func(k, v []byte) error {
		if v[0] != pendingV2 {
			t.Errorf("%q still a v%d record after a checkpoint", k, v[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPendingRecordV2RoundTripAndMalformed(t *testing.T) {
	p := newPending("prod")
	r, _ := p.add("x", hashOf("x"), t0.Add(123456789).UnixNano(), t0.Add(time.Hour).UnixNano(), 77)
	rec := p.mut(r)
	rec.step, rec.failures = 2, 3
	i := p.instance(r, "i1")
	p.setInstance(r, i, instance{platform: 3, counted: 0x801f, succeeded: 7})
	p.instance(r, "")
	enc := p.encodePending(r)
	s, err := decodePending(enc)
	if err != nil || s.seq != 77 || s.seen != t0.Add(123456789).UnixNano() || s.step != 2 || s.failures != 3 ||
		len(s.instanceIDs) != 2 || string(s.instanceIDs[0]) != "i1" || s.instanceState[0].counted != 0x801f {
		t.Fatalf("round trip: %+v, %v", s, err)
	}
	for _, bad := range [][]byte{nil, {9}, enc[:5], append(enc, 1)} {
		if _, err := decodePending(bad); err == nil {
			t.Errorf("decodePending(%v) accepted a malformed record", bad)
		}
	}
}

// TestRecordHoldsNoPointers: a million pending records cost the garbage
// collector nothing to scan, and 48 bytes each.
func TestRecordHoldsNoPointers(t *testing.T) {
	for _, v := range []any{record{}, instance{}, unqueriedRef{}, slotKey{}} {
		typ := reflect.TypeOf(v)
		if hasPointers(typ) {
			t.Errorf("%s holds pointers", typ)
		}
	}
	if n := unsafe.Sizeof(record{}); n != 48 {
		t.Errorf("record is %d bytes, want 48", n)
	}
}

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.String, reflect.Interface, reflect.Chan, reflect.Func:
		return true
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
	case reflect.Array:
		return hasPointers(t.Elem())
	}
	return false
}

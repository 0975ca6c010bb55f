package store

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"math/bits"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

var stateFile struct {
	sync.Mutex
	data []byte
}

// buildStateFile writes a real state file of a few MiB into dir and
// returns its bytes. It is built once and copied, for speed.
func buildStateFile(t *testing.T, dir string) []byte {
	t.Helper()
	stateFile.Lock()
	defer stateFile.Unlock()
	if stateFile.data == nil {
		stateFile.data = writeStateFile(t, t.TempDir())
	}
	data := bytes.Clone(stateFile.data)
	if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return data
}

func writeStateFile(t *testing.T, dir string) []byte {
	t.Helper()
	s, _, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("v"), 1000)
	for round := 0; round < 3; round++ {
		var b Batch
		for i := 0; i < 500; i++ {
			b.Put("pending", []byte(fmt.Sprintf("%d-%05d", round, i)), value)
		}
		if err := s.Commit(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// dataEnd is where the pages of the meta bbolt would use end.
func dataEnd(t *testing.T, data []byte) int {
	t.Helper()
	m0, ok0 := parseMeta(data)
	if !ok0 {
		t.Fatal("meta page 0 of a fresh file is invalid")
	}
	m1, ok1 := parseMeta(data[m0.pageSize:])
	if ok1 && m1.txid > m0.txid {
		m0 = m1
	}
	return int(m0.highWater * m0.pageSize)
}

// requireMovedAside opens dir and checks that the damaged file was moved
// aside intact, with a cause wrapping ErrCorrupt, and that the fresh store
// works.
func requireMovedAside(t *testing.T, dir string, damaged []byte) {
	t.Helper()
	s, opened, err := Open(dir, Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("Open: %v, want the corrupt file moved aside and a fresh start", err)
	}
	defer s.Close()
	want := filepath.Join(dir, FileName) + ".corrupt-20261125T100000Z"
	if opened.MovedAside != want || !errors.Is(opened.Cause, ErrCorrupt) {
		t.Fatalf("opened = %+v, want moved to %s with a cause wrapping ErrCorrupt", opened, want)
	}
	t.Logf("cause: %v", opened.Cause)
	if got, err := os.ReadFile(want); err != nil || !bytes.Equal(got, damaged) {
		t.Fatalf("the corrupt file must be kept intact for inspection (%v)", err)
	}
	if got := collect(t, s, "pending"); len(got) != 0 {
		t.Fatalf("the fresh store holds %d keys", len(got))
	}
	var b Batch
	b.Put("a", []byte("k"), []byte("v"))
	if err := s.Commit(&b); err != nil {
		t.Fatalf("fresh store unusable: %v", err)
	}
}

// TestTruncatedFileMovedAside: a state file cut short used to crash the
// process with SIGSEGV inside bbolt's mapped pages, on every start (issue
// 13.1); the test binary itself died before the check before mapping.
func TestTruncatedFileMovedAside(t *testing.T) {
	for _, tt := range []struct {
		name string
		size func(end int) int
	}{
		// bbolt maps the file rounded up to a power of two: its last pages
		// then lie inside the mapping but past the end of the file (SIGBUS).
		{"just past a power of two", func(end int) int { return 1<<(bits.Len(uint(end-1))-1) + 1 }},
		// Pages past the mapping: whatever memory lies there (SIGSEGV).
		{"to half of the data", func(end int) int { return end / 2 }},
		{"to 16 KiB", func(int) int { return 16 << 10 }},
		{"one byte short", func(end int) int { return end - 1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := buildStateFile(t, dir)
			end := dataEnd(t, data)
			size := tt.size(end)
			if size >= end {
				t.Fatalf("the file's data ends at %d: truncating to %d would cut nothing", end, size)
			}
			if err := os.Truncate(filepath.Join(dir, FileName), int64(size)); err != nil {
				t.Fatal(err)
			}
			requireMovedAside(t, dir, data[:size])
		})
	}
}

// TestSpareTailTruncatedKept: bbolt grows files ahead of their data; cutting
// only that spare tail loses nothing, and the file is kept with its data.
func TestSpareTailTruncatedKept(t *testing.T) {
	dir := t.TempDir()
	data := buildStateFile(t, dir)
	end := dataEnd(t, data)
	if end == len(data) {
		t.Skip("no spare tail in this file")
	}
	if err := os.Truncate(filepath.Join(dir, FileName), int64(end)); err != nil {
		t.Fatal(err)
	}
	s, opened, err := Open(dir, Options{})
	if err != nil || opened.MovedAside != "" {
		t.Fatalf("Open = %+v, %v; want the file kept", opened, err)
	}
	defer s.Close()
	if got := collect(t, s, "pending"); len(got) != 1500 {
		t.Fatalf("%d keys after reopening, want 1500", len(got))
	}
}

func TestEmptyFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	requireMovedAside(t, dir, []byte{})
}

// setMeta rewrites the meta page at off with edit applied and, like bbolt,
// a matching checksum: a file that is well-formed on the surface.
func setMeta(data []byte, off int, edit func(meta []byte)) {
	b := data[off+pageHeaderSize : off+pageHeaderSize+metaSize]
	edit(b)
	h := fnv.New64a()
	h.Write(b[:metaChecksumAt])
	byteOrder.PutUint64(b[metaChecksumAt:], h.Sum64())
}

func TestDamagedMetaPages(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(data []byte, ps int)
		moved  bool
	}{
		{"a flipped byte in meta 0: bbolt uses meta 1", func(d []byte, ps int) { d[pageHeaderSize+20] ^= 0xff }, false},
		{"a flipped byte in meta 1: bbolt uses meta 0", func(d []byte, ps int) { d[ps+pageHeaderSize+40] ^= 0x01 }, false},
		{"flipped bytes in both meta pages", func(d []byte, ps int) {
			d[pageHeaderSize+3] ^= 0x10
			d[ps+pageHeaderSize+50] ^= 0x10
		}, true},
		{"both meta pages zeroed", func(d []byte, ps int) { clear(d[:2*ps]) }, true},
		{"a valid checksum, high-water mark past the end", func(d []byte, ps int) {
			for _, off := range []int{0, ps} {
				setMeta(d, off, func(m []byte) { byteOrder.PutUint64(m[40:], 1<<40) })
			}
		}, true},
		{"a valid checksum, freelist page out of range", func(d []byte, ps int) {
			for _, off := range []int{0, ps} {
				setMeta(d, off, func(m []byte) { byteOrder.PutUint64(m[32:], byteOrder.Uint64(m[40:])) })
			}
		}, true},
		{"a valid checksum, page size zero", func(d []byte, ps int) {
			for _, off := range []int{0, ps} {
				setMeta(d, off, func(m []byte) { byteOrder.PutUint32(m[8:], 0) })
			}
		}, true},
		{"a freelist that claims more pages than it holds", func(d []byte, ps int) {
			m, _ := parseMeta(d)
			if m1, ok := parseMeta(d[ps:]); ok && m1.txid > m.txid {
				m = m1
			}
			fl := int(m.freelist) * ps
			byteOrder.PutUint16(d[fl+10:], freelistOverflow)
			byteOrder.PutUint64(d[fl+pageHeaderSize:], 1<<60)
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := buildStateFile(t, dir)
			m, _ := parseMeta(data)
			tt.damage(data, int(m.pageSize))
			if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.moved {
				requireMovedAside(t, dir, data)
				return
			}
			s, opened, err := Open(dir, Options{})
			if err != nil || opened.MovedAside != "" {
				t.Fatalf("Open = %+v, %v; want the intact meta page used and the file kept", opened, err)
			}
			defer s.Close()
			if got := collect(t, s, "pending"); len(got) < 1000 {
				t.Fatalf("%d keys kept, want the state of the last or the one before (1000 or 1500)", len(got))
			}
		})
	}
}

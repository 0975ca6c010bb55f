package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func collect(t *testing.T, s *Store, bucket string) map[string]string {
	t.Helper()
	got := map[string]string{}
	if err := s.ForEach(bucket, func(k, v []byte) error {
		got[string(k)] = string(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCommitAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, opened, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if opened.MovedAside != "" {
		t.Fatalf("fresh directory: nothing should be moved aside, got %q", opened.MovedAside)
	}
	var b Batch
	b.Put("a", []byte("k1"), []byte("v1"))
	b.Put("a", []byte("k2"), []byte("v2"))
	b.Put("b", []byte("x"), nil)
	b.Delete("a", []byte("k2"))
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, _, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := collect(t, s, "a"); len(got) != 1 || got["k1"] != "v1" {
		t.Fatalf("bucket a after reopen = %v, want only k1=v1 (later delete of k2 applies)", got)
	}
	if got := collect(t, s, "b"); len(got) != 1 {
		t.Fatalf("bucket b = %v, want the empty value kept", got)
	}
	if got := collect(t, s, "missing"); len(got) != 0 {
		t.Fatalf("missing bucket = %v", got)
	}
}

func TestLockedByAnotherInstance(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, _, err = Open(dir, Options{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: err = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second open took %v, want a quick clear error", d)
	}
	// The running instance's file must not have been moved aside.
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	junk := []byte(strings.Repeat("not a bbolt file ", 2000))
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s, opened, err := Open(dir, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := path + ".corrupt-20261125T100000Z"
	if opened.MovedAside != want || opened.Cause == nil {
		t.Fatalf("opened = %+v, want moved to %s with a cause", opened, want)
	}
	if b, err := os.ReadFile(want); err != nil || string(b) != string(junk) {
		t.Fatalf("the corrupt file must be kept intact for inspection: %v", err)
	}
	var b Batch
	b.Put("a", []byte("k"), []byte("v"))
	if err := s.Commit(&b); err != nil {
		t.Fatalf("fresh store unusable: %v", err)
	}
}

func TestDeletePrefixBelow(t *testing.T) {
	s, _, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b Batch
	for _, k := range []string{"p/1", "p/2", "p/3", "p/4", "q/1"} {
		b.Put("d", []byte(k), []byte("x"))
	}
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	var del Batch
	del.DeletePrefixBelow("d", []byte("p/"), []byte("3"))
	del.Put("d", []byte("p/0"), []byte("new")) // later ops in the same batch still apply
	if err := s.Commit(&del); err != nil {
		t.Fatal(err)
	}
	got := collect(t, s, "d")
	for _, k := range []string{"p/0", "p/3", "p/4", "q/1"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s deleted, want kept", k)
		}
	}
	if len(got) != 4 {
		t.Errorf("left %v", got)
	}
}

// TestCommitOrderKept checks that sorting writes for speed keeps their
// meaning: later writes to a key win, and a range delete applies only to
// what was written before it.
func TestCommitOrderKept(t *testing.T) {
	s, _, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b Batch
	b.Put("d", []byte("p/9"), []byte("first"))
	b.Put("a", []byte("z"), []byte("1"))
	b.Put("d", []byte("p/1"), []byte("old"))
	b.Put("d", []byte("p/9"), []byte("second"))
	b.Delete("a", []byte("z"))
	b.DeletePrefixBelow("d", []byte("p/"), []byte("5")) // removes p/1 only
	b.Put("d", []byte("p/2"), []byte("after the range delete"))
	b.Put("a", []byte("z"), []byte("2"))
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	got := collect(t, s, "d")
	want := map[string]string{"p/9": "second", "p/2": "after the range delete"}
	if len(got) != len(want) || got["p/9"] != want["p/9"] || got["p/2"] != want["p/2"] {
		t.Fatalf("bucket d = %v, want %v", got, want)
	}
	if a := collect(t, s, "a"); a["z"] != "2" {
		t.Fatalf("bucket a = %v, want z=2 (the last write)", a)
	}
}

// BenchmarkCommitRandomKeys is the checkpoint after a burst of new PushIDs.
func BenchmarkCommitRandomKeys(b *testing.B) {
	s, _, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < b.N; i++ {
		var batch Batch
		for j := 0; j < 100000; j++ {
			k := []byte(fmt.Sprintf("%08x-%d", uint32(j*2654435761), i))
			batch.Put("pending", k, k)
		}
		if err := s.Commit(&batch); err != nil {
			b.Fatal(err)
		}
	}
}

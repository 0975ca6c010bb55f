package store

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Reading the whole state file at start (the check in Open, then every
// bucket) must not leave the file in the exporter's RSS: bbolt maps it,
// and with a million pending PushIDs it is hundreds of megabytes. And every
// key and value must read back intact after the pages were handed back.
func TestForEachHandsBackTheFilesPages(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n, size = 24_000, 1000 // 24 MB of values: several releaseEvery
	var b Batch
	for i := range n {
		b.Put("a", fmt.Appendf(nil, "key-%08d", i), value(i, size))
	}
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	before := rssFile(t)
	s, _, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	afterOpen := rssFile(t)
	i, peak := 0, int64(0)
	if err := s.ForEach("a", func(k, v []byte) error {
		if want := fmt.Sprintf("key-%08d", i); string(k) != want || string(v) != string(value(i, size)) {
			return fmt.Errorf("record %d: key %q, want %q, or its value differs", i, k, want)
		}
		if i%1000 == 0 {
			peak = max(peak, rssFile(t))
		}
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("read %d records, want %d", i, n)
	}
	after := rssFile(t)
	const slack = 4 << 20 // the meta and branch pages, the test binary's own pages
	if afterOpen-before > slack || after-before > slack {
		t.Errorf("file-backed RSS grew by %d MB after Open and %d MB after reading everything, want ≤ %d MB", (afterOpen-before)>>20, (after-before)>>20, slack>>20)
	}
	if peak-before > 3*releaseEvery {
		t.Errorf("file-backed RSS grew by %d MB while reading, want ≤ %d MB", (peak-before)>>20, 3*releaseEvery>>20)
	}
}

func value(i, size int) []byte {
	return []byte(strings.Repeat(strconv.Itoa(i%10), size))
}

// rssFile is this process's file-backed RSS (RssFile of /proc/self/status).
func rssFile(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// Commits of keys scattered over a large file (new PushIDs among a million
// pending) read a page of the mapping for each key. Those pages must not
// stay in the RSS after the commit, and what was written must read back.
func TestCommitHandsBackTheFilesPages(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n, size = 24_000, 1000 // 24 MB of values, about 6,000 pages
	var b Batch
	for i := range n {
		b.Put("a", fmt.Appendf(nil, "key-%08d", 2*i), value(i, size))
	}
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	before := rssFile(t)
	for round := range 4 {
		var b Batch
		for i := round; i < n; i += 8 { // one key in 8: most pages are read
			b.Put("a", fmt.Appendf(nil, "key-%08d", 2*i+1), value(i, 10))
		}
		if err := s.Commit(&b); err != nil {
			t.Fatal(err)
		}
	}
	after := rssFile(t)
	const slack = 4 << 20 // the meta and branch pages, the test binary's own pages
	if after-before > slack {
		t.Errorf("file-backed RSS grew by %d MB over four scattered commits, want ≤ %d MB", (after-before)>>20, slack>>20)
	}
	got := 0
	if err := s.ForEach("a", func(k, v []byte) error {
		got++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := n + 4*(n/8); got != want {
		t.Errorf("read back %d records, want %d", got, want)
	}
}

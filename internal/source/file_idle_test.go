//go:build unix

package source

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// idle makes the harness's files idle-closed after two polls.
func idle(o *FileOptions) { o.IdleClose = 2 * testPoll }

// A file that stops growing is closed, reopened when it grows, and read on
// from where it was, its unfinished line included.
func TestFileIdleFileClosedAndReopened(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, idle)
	appendFile(t, h.path("app.log"), "id-1\nid-")
	h.step()
	wantIDs(t, sink.take(), []string{"id-1"})
	if got := h.metric("files_open"); got != 1 {
		t.Fatalf("files_open = %v right after growing, want 1", got)
	}
	h.step()
	h.step()
	if got := h.metric("files_open"); got != 0 {
		t.Fatalf("files_open = %v after %v idle, want 0", got, 2*testPoll)
	}
	appendFile(t, h.path("app.log"), "2\nid-3\n")
	h.step()
	wantIDs(t, sink.take(), []string{"id-2", "id-3"})
	if got, want := h.metric("files_open"), 1.0; got != want {
		t.Errorf("files_open = %v after growing again, want %v", got, want)
	}
	if got := h.metric("files_followed"); got != 1 {
		t.Errorf("files_followed = %v, want 1", got)
	}
	if got := h.metric("rotations_total") + h.metric("truncations_total"); got != 0 {
		t.Errorf("rotations + truncations = %v, want 0", got)
	}
}

// With more files than MaxOpenFiles, only that many stay open, and every
// file's new lines are still read.
func TestFileMaxOpenFiles(t *testing.T) {
	dir := t.TempDir()
	const n = 6
	for i := range n {
		writeFile(t, filepath.Join(dir, "f"+strconv.Itoa(i)+".log"), "")
	}
	sink := newFileTestSink()
	h := startFile(t, dir, "*.log", sink, func(o *FileOptions) { o.MaxOpenFiles = 2 })
	if got := h.metric("files_open"); got != 2 {
		t.Fatalf("files_open = %v with %d files, want 2", got, n)
	}
	for round := range 3 {
		var want []string
		for i := range n {
			data, ids := lines("f"+strconv.Itoa(i)+"r"+strconv.Itoa(round), 0, 2)
			appendFile(t, filepath.Join(dir, "f"+strconv.Itoa(i)+".log"), data)
			want = append(want, ids...)
		}
		h.step()
		wantIDs(t, sink.take(), want)
		if got := h.metric("files_open"); got > 2 {
			t.Fatalf("files_open = %v, want at most 2", got)
		}
	}
	if got := h.metric("files_followed"); got != n {
		t.Errorf("files_followed = %v, want %d", got, n)
	}
}

// Rename + create while the old file is closed: the rest of the old file
// (written by a writer that has not reopened yet) is still read, once,
// and the new file from its start.
func TestFileRotatedWhileClosed(t *testing.T) {
	dir := t.TempDir()
	log := dir + "/push.log"
	writeFile(t, log, "")
	sink := newFileTestSink()
	h := startFile(t, dir, "push.log", sink, idle)
	a, idsA := lines("a", 0, 3)
	appendFile(t, log, a)
	h.step()
	wantIDs(t, sink.take(), idsA)
	h.step()
	h.step()
	if got := h.metric("files_open"); got != 0 {
		t.Fatalf("files_open = %v, want 0 (idle)", got)
	}

	old, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	rename(t, log, dir+"/push.log.1")
	b, idsB := lines("b", 0, 2) // the writer has not reopened yet
	old.WriteString(b + "tail")
	c, idsC := lines("c", 0, 2)
	writeFile(t, log, c)
	h.step()
	h.step() // nothing new in push.log.1: finished, its last line complete
	wantIDs(t, sink.take(), idsB, []string{"tail"}, idsC)
	if got := h.metric("rotations_total"); got != 1 {
		t.Errorf("rotations_total = %v, want 1", got)
	}
	wantKeys(t, sink, "file:"+log)
	if p, _ := sink.position(t, log); p.Offset != int64(len(c)) {
		t.Errorf("push.log offset %d, want %d", p.Offset, len(c))
	}
	old.WriteString("late\n")
	h.step()
	wantIDs(t, sink.take())
}

// Truncated while closed, then grown past the old offset: the size alone
// does not show it, the first bytes do.
func TestFileTruncatedWhileClosed(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, idle)
	o, idsO := lines("o", 0, 3)
	appendFile(t, h.path("app.log"), o)
	h.step()
	wantIDs(t, sink.take(), idsO)
	h.step()
	h.step()
	n, idsN := lines("n", 0, 6)
	writeFile(t, h.path("app.log"), n) // truncates, and writes more than before
	h.step()
	wantIDs(t, sink.take(), idsN)
	if got := h.metric("truncations_total"); got != 1 {
		t.Errorf("truncations_total = %v, want 1", got)
	}
}

// Deleted while closed: it is forgotten, its unfinished last line counted
// as complete, its cursor deleted.
func TestFileDeletedWhileClosed(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, idle)
	appendFile(t, h.path("app.log"), "id-1\nid-2")
	h.step()
	h.step()
	h.step()
	wantIDs(t, sink.take(), []string{"id-1"})
	if err := os.Remove(h.path("app.log")); err != nil {
		t.Fatal(err)
	}
	h.step()
	wantIDs(t, sink.take(), []string{"id-2"})
	wantKeys(t, sink)
	if got := h.metric("files_followed"); got != 0 {
		t.Errorf("files_followed = %v, want 0", got)
	}
}

// A closed file's directory cannot be listed: it is neither read nor
// dropped, and what it got meanwhile is read once listing works again.
func TestFileListingFailsWhileClosed(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	rd := &failingReadDir{}
	sink := newFileTestSink()
	h := startFile(t, dir, "*.log", sink, func(o *FileOptions) { idle(o); o.readDir = rd.readDir })
	appendFile(t, h.path("app.log"), "id-1\n")
	h.step()
	h.step()
	h.step()
	rd.fail.Store(true)
	appendFile(t, h.path("app.log"), "id-2\n")
	h.step()
	h.step()
	wantIDs(t, sink.take(), []string{"id-1"})
	rd.fail.Store(false)
	h.step()
	wantIDs(t, sink.take(), []string{"id-2"})
	if got := h.metric("rotations_total") + h.metric("truncations_total"); got != 0 {
		t.Errorf("rotations + truncations = %v, want 0", got)
	}
}

// Renamed within the glob while closed: the cursor moves to the new name
// at once, so a restart neither loses the file's place nor reads it again.
func TestFileRenamedWhileClosed(t *testing.T) {
	dir := t.TempDir()
	a, idsA := lines("a", 0, 3)
	writeFile(t, dir+"/a.log", a)
	sink := newFileTestSink()
	start := func(o *FileOptions) { idle(o); o.StartAtEnd = false }
	h := startFile(t, dir, "*.log", sink, start)
	wantIDs(t, sink.take(), idsA)
	h.step()
	h.step()
	if got := h.metric("files_open"); got != 0 {
		t.Fatalf("files_open = %v, want 0", got)
	}
	rename(t, h.path("a.log"), h.path("b.log"))
	h.step()
	wantKeys(t, sink, "file:"+h.path("b.log"))
	h.stop()
	h2 := startFile(t, dir, "*.log", sink.killed(), start)
	b, idsB := lines("b", 0, 2)
	appendFile(t, h2.path("b.log"), b)
	h2.step()
	wantIDs(t, h2.sink.take(), idsB)
}

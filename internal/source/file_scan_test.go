//go:build unix

package source

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/go-kit/log"

	"github.com/timpush/timpush_exporter/internal/exportertest"
)

// failingReadDir is os.ReadDir until fail is set; then every directory
// read fails with EMFILE, as when the process is out of descriptors.
type failingReadDir struct{ fail atomic.Bool }

func (r *failingReadDir) readDir(dir string) ([]os.DirEntry, error) {
	if r.fail.Load() {
		return nil, &os.PathError{Op: "open", Path: dir, Err: syscall.EMFILE}
	}
	return os.ReadDir(dir)
}

// While the glob's directory cannot be listed, nothing changes: no file
// is drained or read again, no cursor deleted; the open files are still
// read through their descriptors. Once it can be listed again, what
// happened meanwhile (new lines, a new file, a rotation) is read once.
func TestFileListingFailsChangesNothing(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.log", "b.log", "c.log"} {
		writeFile(t, filepath.Join(dir, n), "")
	}
	rd := &failingReadDir{}
	var logs exportertest.LogBuffer
	sink := newFileTestSink()
	h := startFile(t, dir, "*.log", sink, func(o *FileOptions) {
		o.readDir = rd.readDir
		o.Logger = log.NewLogfmtLogger(&logs)
	})
	var all []string
	for _, n := range []string{"a.log", "b.log", "c.log"} {
		data, ids := lines(strings.TrimSuffix(n, ".log"), 0, 3)
		appendFile(t, h.path(n), data)
		all = append(all, ids...)
	}
	h.step()
	wantIDs(t, sink.take(), all)
	keys := sink.keys()

	rd.fail.Store(true)
	during, idsDuring := lines("during", 0, 2)
	appendFile(t, h.path("a.log"), during)
	h.step()
	wantIDs(t, sink.take(), idsDuring) // a.log is open: read through its descriptor
	newer, idsNew := lines("new", 0, 2)
	writeFile(t, h.path("d.log"), newer)
	rotated, idsRotated := lines("rotated", 0, 2)
	appendFile(t, h.path("b.log"), rotated)
	rename(t, h.path("b.log"), h.path("b.log.1"))
	for range 8 {
		h.step()
	}
	wantIDs(t, sink.take(), idsRotated) // b.log's descriptor still reads its lines
	if got := sink.keys(); !slices.Equal(got, keys) {
		t.Fatalf("cursor keys changed while listing failed:\n got %q\nwant %q", got, keys)
	}
	for name, want := range map[string]float64{"rotations_total": 0, "truncations_total": 0, "poll_errors_total": 9, "files_followed": 3} {
		if got := h.metric(name); got != want {
			t.Errorf("%s = %v while listing failed, want %v", name, got, want)
		}
	}
	if n := strings.Count(logs.String(), "cannot list the files of the glob"); n != 1 {
		t.Errorf("the listing error was logged %d times in 9 failed polls, want once:\n%s", n, logs.String())
	}

	rd.fail.Store(false)
	h.step()
	h.step() // b.log.1: nothing new, finished
	wantIDs(t, sink.take(), idsNew)
	if got := h.metric("rotations_total"); got != 1 {
		t.Errorf("rotations_total = %v after the fault, want 1 (b.log)", got)
	}
	if !strings.Contains(logs.String(), "the glob can be listed again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
	wantKeys(t, sink, "file:"+h.path("a.log"), "file:"+h.path("c.log"), "file:"+h.path("d.log"))
	h.stop()
	if got, want := sink.received["prod"], len(all)+len(idsDuring)+len(idsNew)+len(idsRotated); got != want {
		t.Errorf("received %d PushIDs, want %d: each line counted once", got, want)
	}
}

// A failure listing a directory in the middle of the pattern counts too.
func TestFileListingFailsInSubdirectory(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "x"), 0o755)
	writeFile(t, filepath.Join(dir, "x", "app.log"), "")
	sink := newFileTestSink()
	h := startFile(t, dir, "*/app.log", sink, func(o *FileOptions) {
		o.readDir = func(d string) ([]os.DirEntry, error) {
			if d == filepath.Join(dir, "x") {
				return nil, &os.PathError{Op: "readdirent", Path: d, Err: syscall.EIO}
			}
			return os.ReadDir(d)
		}
	})
	h.step()
	if got := h.metric("poll_errors_total"); got != 2 {
		t.Fatalf("poll_errors_total = %v, want 2", got)
	}
	if got := h.metric("files_followed"); got != 0 {
		t.Fatalf("files_followed = %v", got)
	}
}

// globPaths gives what filepath.Glob gives where nothing fails.
func TestGlobPathsLikeFilepathGlob(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/x.log", "a/y.txt", "b/x.log", "b/c/x.log", "[x].log", "x.log", ".h.log"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		writeFile(t, filepath.Join(dir, p), "")
	}
	f := &File{readDir: os.ReadDir}
	for _, pat := range []string{"*.log", "*/*.log", "?/x.log", "*/c/*", "a/*", `\[x\].log`, "[ab]/x.log", "x.log", "none.log", "none/*.log", "x.log/*", "*/*/*"} {
		pattern := filepath.Join(dir, pat)
		want, _ := filepath.Glob(pattern)
		got, err := f.globPaths(pattern)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: globPaths = %q, %v; filepath.Glob = %q", pat, got, err, want)
		}
	}
}

// Paths that match the glob but are not regular files are logged and
// counted once each, and never opened (a FIFO would block).
func TestFileIgnoresNonFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ok.log"), "")
	if err := os.Mkdir(filepath.Join(dir, "dir.log"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "nothing"), filepath.Join(dir, "dangling.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "loop2.log"), filepath.Join(dir, "loop1.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "loop1.log"), filepath.Join(dir, "loop2.log")); err != nil {
		t.Fatal(err)
	}
	var logs exportertest.LogBuffer
	sink := newFileTestSink()
	h := startFile(t, dir, "*.log", sink, func(o *FileOptions) { o.Logger = log.NewLogfmtLogger(&logs) })
	appendFile(t, h.path("ok.log"), "id-1\n")
	h.step()
	h.step()
	wantIDs(t, sink.take(), []string{"id-1"})
	for reason, want := range map[string]float64{
		IgnoredDirectory: 1, IgnoredFIFO: 1, IgnoredDanglingSymlink: 1, IgnoredSymlinkLoop: 2, IgnoredOther: 0,
	} {
		if got := h.metric("ignored_total", reason); got != want {
			t.Errorf("ignored_total{reason=%q} = %v after 3 polls, want %v", reason, got, want)
		}
	}
	for _, p := range []string{"dir.log", "fifo.log", "dangling.log", "loop1.log", "loop2.log"} {
		if n := strings.Count(logs.String(), "path="+h.path(p)+" reason="); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", p, n, logs.String())
		}
	}
	// A dangling symlink that comes to point at a file is followed.
	writeFile(t, h.path("nothing"), "id-2\n")
	h.step()
	wantIDs(t, sink.take(), []string{"id-2"})
	if got := h.metric("files_followed"); got != 2 {
		t.Errorf("files_followed = %v, want 2", got)
	}
}

// A FIFO put where a regular file was seen is not opened: openRegular
// returns at once with an error instead of blocking for a writer.
func TestOpenRegularRefusesFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openRegular(p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("openRegular(fifo) = %v", err)
	}
}

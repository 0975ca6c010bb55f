//go:build unix

package source

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-kit/log"

	"github.com/timpush/timpush_exporter/internal/exportertest"
)

// killed returns a new sink holding only the cursors s holds now: what the
// last checkpoint saved before a kill -9. Whatever the stopped File offers
// afterwards is not in it.
func (s *fileTestSink) killed() *fileTestSink {
	n := newFileTestSink()
	for k, v := range s.Cursors("") {
		n.cursors[k] = v
	}
	return n
}

func (s *fileTestSink) keys() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range s.Cursors("") {
			if !yield(k) {
				return
			}
		}
	})
}

func wantKeys(t *testing.T, s *fileTestSink, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := s.keys(); !slices.Equal(got, want) {
		t.Fatalf("cursor keys\n got %q\nwant %q", got, want)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return identityOf(fi).ino
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// The exporter is killed after a checkpoint; while it is down the file gets
// more lines and is rotated. After the restart every line is read once:
// the rest of the old file from the saved offset, the new file from its
// start.
func TestFileRotatedWhileStopped(t *testing.T) {
	for _, tt := range []struct {
		name      string
		rotate    func(t *testing.T, dir string) // after the old file got its last lines
		newFile   bool                           // a new push.log is created
		rotations float64                        // counted by the restarted File
		wantKeys  []string                       // besides file:push.log if newFile
	}{
		{name: "renamed out of the glob", newFile: true, rotations: 1, rotate: func(t *testing.T, dir string) {
			rename(t, dir+"/push.log", dir+"/push.log.1")
		}},
		{name: "renamed out, no new file yet", rotations: 1, rotate: func(t *testing.T, dir string) {
			rename(t, dir+"/push.log", dir+"/push.log.1")
		}},
		{name: "renamed out twice", newFile: true, rotations: 1, rotate: func(t *testing.T, dir string) {
			rename(t, dir+"/push.log", dir+"/push.log.1")
			rename(t, dir+"/push.log.1", dir+"/push.log.2")
		}},
		{name: "renamed within the glob", newFile: true, wantKeys: []string{"push-20261125.log"}, rotate: func(t *testing.T, dir string) {
			rename(t, dir+"/push.log", dir+"/push-20261125.log")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log := dir + "/push.log"
			writeFile(t, log, "")
			sink := newFileTestSink()
			h := startFile(t, dir, "push*.log", sink, nil)
			a, idsA := lines("a", 0, 3)
			appendFile(t, log, a)
			h.step()
			wantIDs(t, sink.take(), idsA)
			sink = sink.killed()
			h.stop()

			b, idsB := lines("b", 0, 2) // written while down, before the rotation
			appendFile(t, log, b)
			tt.rotate(t, dir)
			var idsC []string
			if tt.newFile {
				var c string
				c, idsC = lines("c", 0, 2)
				writeFile(t, log, c)
			}

			h2 := startFile(t, dir, "push*.log", sink, nil)
			wantIDs(t, sink.take(), idsB, idsC)
			h2.step()
			h2.step() // the rotated file is done
			d, idsD := lines("d", 0, 2)
			appendFile(t, log, d) // the new file, or the first one created after the restart
			h2.step()
			wantIDs(t, sink.take(), idsD)
			want := []string{"file:" + log}
			for _, k := range tt.wantKeys {
				want = append(want, "file:"+dir+"/"+k)
			}
			wantKeys(t, sink, want...)
			if got := h2.metric("rotations_total"); got != tt.rotations {
				t.Errorf("rotations_total = %v, want %v", got, tt.rotations)
			}
		})
	}
}

// A file that left the glob keeps its cursor, under its drain key, while
// it is read to its end; killed then, the restarted File reads the rest
// from there, wherever the file has been renamed to meanwhile, or ends
// when it can be found no more.
func TestFileKilledWhileDraining(t *testing.T) {
	for _, tt := range []struct {
		name   string
		down   func(t *testing.T, dir string)
		killed bool // else stopped: the final cursors are saved
		rest   bool // the rest of the old file is read
	}{
		{name: "killed", killed: true, rest: true, down: func(*testing.T, string) {}},
		{name: "stopped", rest: true, down: func(*testing.T, string) {}},
		{name: "killed, renamed again", killed: true, rest: true, down: func(t *testing.T, dir string) {
			rename(t, dir+"/push.path.1", dir+"/push.path.2")
		}},
		{name: "killed, then compressed", killed: true, down: func(t *testing.T, dir string) {
			os.Remove(dir + "/push.path.1")
			writeFile(t, dir+"/push.path.1.gz", "\x1f\x8b junk\n")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := dir + "/push.path"
			writeFile(t, path, "")
			sink := newFileTestSink()
			logs := &exportertest.LogBuffer{}
			withLogs := func(o *FileOptions) { o.Logger = log.NewLogfmtLogger(logs) }
			h := startFile(t, dir, "push*.path", sink, withLogs)
			old, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer old.Close()
			a, idsA := lines("a", 0, 3)
			old.WriteString(a)
			h.step()
			wantIDs(t, sink.take(), idsA)

			ino := inode(t, path)
			b, idsB := lines("b", 0, 2)
			old.WriteString(b)
			rename(t, path, dir+"/push.path.1")
			c, idsC := lines("c", 0, 2)
			writeFile(t, path, c)
			h.step() // the old file is being drained: kept one more poll
			wantIDs(t, sink.take(), idsB, idsC)
			dk := drainKey(path, ino)
			wantKeys(t, sink, "file:"+path, dk)
			if p, _ := decodePosition(sink.cursors[dk]); p.Offset != int64(len(a+b)) || p.Ino != ino {
				t.Fatalf("drain cursor %+v, want offset %d of inode %d", p, len(a+b), ino)
			}

			d, idsD := lines("d", 0, 2) // the writer has not reopened yet
			old.WriteString(d)
			restarted := sink
			if tt.killed {
				restarted = sink.killed()
			}
			h.stop()
			tt.down(t, dir)

			h2 := startFile(t, dir, "push*.path", restarted, withLogs)
			h2.step()
			h2.step()
			if tt.rest {
				wantIDs(t, restarted.take(), idsD)
			} else {
				wantIDs(t, restarted.take())
				if !strings.Contains(logs.String(), "gone while stopped") {
					t.Errorf("nothing logged about the lost file:\n%s", logs)
				}
			}
			wantKeys(t, restarted, "file:"+path)
			e, idsE := lines("e", 0, 2)
			appendFile(t, path, e)
			h2.step()
			wantIDs(t, restarted.take(), idsE)
		})
	}
}

// A saved position whose inode now belongs to another file (the rotated
// file was deleted, its inode reused) does not make that file be read.
func TestFileRotatedInodeReused(t *testing.T) {
	for _, drain := range []bool{false, true} {
		t.Run(map[bool]string{false: "path key", true: "drain key"}[drain], func(t *testing.T) {
			dir := t.TempDir()
			log := dir + "/push.log"
			r, _ := lines("r", 0, 60) // longer than the fingerprint of the file that is gone
			writeFile(t, dir+"/push.log.1", r)
			y, idsY := lines("y", 0, 2)
			writeFile(t, log, y)
			other := "a file that is gone, whose inode push.log.1 got\n"
			fp, _ := fingerprint(strings.NewReader(other), len(other))
			p := position{Offset: 4, Ino: inode(t, dir+"/push.log.1"), FP: fp, FPLen: len(other)}
			key := "file:" + log
			if drain {
				key = drainKey(log, p.Ino)
			}
			sink := newFileTestSink()
			sink.cursors[key] = p.encode()
			sink.cursors["file:"+dir+"/other.log"] = p.encode() // another source's
			h := startFile(t, dir, "push*.log", sink, func(o *FileOptions) { o.StartAtEnd = false })
			h.step()
			wantIDs(t, sink.take(), idsY)
			wantKeys(t, sink, "file:"+log, "file:"+dir+"/other.log")
		})
	}
}

// The name a drained file had is taken by something that cannot be
// followed (here a directory). Its cursor is not left pointing at the
// drained file, which a restart would read again, nor deleted, which
// would make a file created there later and present at the restart be
// read from its end: it is blanked.
func TestFileDrainedNameTakenByUnfollowable(t *testing.T) {
	dir := t.TempDir()
	log := dir + "/push.log"
	writeFile(t, log, "")
	sink := newFileTestSink()
	h := startFile(t, dir, "push*.log", sink, nil)
	a, idsA := lines("a", 0, 2)
	appendFile(t, log, a)
	h.step()
	wantIDs(t, sink.take(), idsA)
	rename(t, log, dir+"/push.log.1")
	if err := os.Mkdir(log, 0o755); err != nil {
		t.Fatal(err)
	}
	h.step()
	h.step()
	wantKeys(t, sink, "file:"+log)
	if p, _ := sink.position(t, log); p != (position{}) {
		t.Fatalf("position %+v of the name, want blank", p)
	}
	h.stop()

	os.Remove(log)
	b, idsB := lines("b", 0, 2)
	writeFile(t, log, b)
	startFile(t, dir, "push*.log", sink, nil) // StartAtEnd
	wantIDs(t, sink.take(), idsB)
}

func TestCursorPath(t *testing.T) {
	for _, tt := range []struct {
		key   string
		path  string
		drain bool
	}{
		{"file:/var/log/push.log", "/var/log/push.log", false},
		{drainKey("/var/log/push.log", 1234), "/var/log/push.log", true},
		{"file:/var/log/a@inode:b.log", "/var/log/a@inode:b.log", false},
		{"file:/var/log/x@inode:12@inode:34", "/var/log/x@inode:12", true},
	} {
		if path, drain := cursorPath(tt.key); path != tt.path || drain != tt.drain {
			t.Errorf("cursorPath(%q) = %q, %v; want %q, %v", tt.key, path, drain, tt.path, tt.drain)
		}
	}
}

// A file being drained that is renamed back into the glob is followed
// again under its new name, and its drain key goes.
func TestFileDrainedBackInGlob(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/push.log"
	writeFile(t, path, "")
	sink := newFileTestSink()
	h := startFile(t, dir, "push*.log", sink, nil)
	a, idsA := lines("a", 0, 2)
	appendFile(t, path, a)
	h.step()
	wantIDs(t, sink.take(), idsA)
	rename(t, path, dir+"/push.log.1")
	writeFile(t, path, "")
	h.step()
	rename(t, dir+"/push.log.1", dir+"/push-old.log")
	b, idsB := lines("b", 0, 2)
	appendFile(t, dir+"/push-old.log", b)
	h.step()
	h.step()
	wantIDs(t, sink.take(), idsB)
	wantKeys(t, sink, "file:"+path, "file:"+dir+"/push-old.log")
	c, idsC := lines("c", 0, 2)
	appendFile(t, dir+"/push-old.log", c)
	h.step()
	wantIDs(t, sink.take(), idsC)
	if p, _ := sink.position(t, dir+"/push-old.log"); p.Offset != int64(len(a+b+c)) {
		t.Fatalf("offset %d, want %d", p.Offset, len(a+b+c))
	}
}

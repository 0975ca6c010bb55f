package source

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

func TestFileStartAtEndReadsOnlyNewLines(t *testing.T) {
	dir := t.TempDir()
	old, _ := lines("old", 0, 3)
	writeFile(t, dir+"/app.log", old+"half")
	sink := newFileTestSink()
	h := startFile(t, dir, "*.log", sink, nil)
	wantIDs(t, sink.take())
	if p, _ := sink.position(t, h.path("app.log")); p.Offset != int64(len(old)) {
		t.Fatalf("start offset %d, want %d (after the last complete line)", p.Offset, len(old))
	}

	data, ids := lines("new", 0, 3)
	appendFile(t, h.path("app.log"), "-done\n"+data)
	h.step()
	wantIDs(t, sink.take(), []string{"half-done"}, ids)
}

func TestFileStartAtBeginning(t *testing.T) {
	dir := t.TempDir()
	data, ids := lines("a", 0, 5)
	writeFile(t, dir+"/app.log", data)
	sink := newFileTestSink()
	startFile(t, dir, "app.log", sink, func(o *FileOptions) { o.StartAtEnd = false })
	wantIDs(t, sink.take(), ids)
}

func TestFileOfferedIDs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, func(o *FileOptions) {
		o.Format, o.Regex = FormatRegex, testRegex
	})
	appendFile(t, h.path("app.log"), "x msg_id=m1 app=test\nx msg_id=m2\n")
	h.step()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	want := []pushid.ID{
		{App: "test", PushID: "m1", Source: pushid.SourceFile, Seen: h.clk.Now()},
		{App: "prod", PushID: "m2", Source: pushid.SourceFile, Seen: h.clk.Now()},
	}
	if len(sink.ids) != 2 || sink.ids[0] != want[0] || sink.ids[1] != want[1] {
		t.Fatalf("got %+v, want %+v", sink.ids, want)
	}
}

func TestFilePartialLineWaitsForNewline(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, nil)

	appendFile(t, h.path("app.log"), "id-1\nid-")
	h.step()
	wantIDs(t, sink.take(), []string{"id-1"})
	appendFile(t, h.path("app.log"), "2")
	h.step()
	wantIDs(t, sink.take())
	if p, _ := sink.position(t, h.path("app.log")); p.Offset != 5 {
		t.Fatalf("cursor offset %d, want 5: a partial line is not passed", p.Offset)
	}
	appendFile(t, h.path("app.log"), "\r\n")
	h.step()
	wantIDs(t, sink.take(), []string{"id-2"})
}

// Rename + create: the old file is read to its end, including lines
// appended just before the rename and lines its writer appends before it
// reopens; the new file from its start; the rotated name is then dropped.
func TestFileRotationByRename(t *testing.T) {
	dir := t.TempDir()
	log := dir + "/push.log"
	writeFile(t, log, "")
	sink := newFileTestSink()
	h := startFile(t, dir, "push*.log", sink, nil)

	a, idsA := lines("a", 0, 3)
	appendFile(t, log, a)
	h.step()
	wantIDs(t, sink.take(), idsA)

	old, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	b, idsB := lines("b", 0, 3) // just before rotation
	old.WriteString(b)
	if err := os.Rename(log, dir+"/push.log.1"); err != nil {
		t.Fatal(err)
	}
	c, idsC := lines("c", 0, 2) // the writer has not reopened yet
	old.WriteString(c)
	d, idsD := lines("d", 0, 4)
	writeFile(t, log, d)
	h.step()
	wantIDs(t, sink.take(), idsB, idsC, idsD)
	if p, _ := sink.position(t, log); p.Offset != int64(len(d)) {
		t.Fatalf("cursor offset %d, want %d of the new file", p.Offset, len(d))
	}

	e, idsE := lines("e", 0, 2) // the slow writer's last lines
	old.WriteString(e + "tail")
	h.step()
	h.step() // nothing new: closed, its unfinished last line taken as complete
	wantIDs(t, sink.take(), idsE, []string{"tail"})
	old.WriteString("late\n") // closed: the rotated name is no longer read
	h.step()
	wantIDs(t, sink.take())
	if got := h.metric("rotations_total"); got != 1 {
		t.Errorf("rotations_total = %v, want 1", got)
	}
	if got := h.metric("files_followed"); got != 1 {
		t.Errorf("files_followed = %v, want 1", got)
	}
}

func TestFileRenameWithinGlobIsNotReadAgain(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/a.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "*.log", sink, nil)
	a, idsA := lines("a", 0, 3)
	appendFile(t, h.path("a.log"), a)
	h.step()
	wantIDs(t, sink.take(), idsA)

	if err := os.Rename(h.path("a.log"), h.path("b.log")); err != nil {
		t.Fatal(err)
	}
	h.step()
	wantIDs(t, sink.take())
	if p, _ := sink.position(t, h.path("b.log")); p.Offset != int64(len(a)) {
		t.Errorf("b.log offset %d right after the rename, want %d", p.Offset, len(a))
	}
	b, idsB := lines("b", 0, 2)
	appendFile(t, h.path("b.log"), b)
	h.step()
	wantIDs(t, sink.take(), idsB)
	if _, ok := sink.position(t, h.path("a.log")); ok {
		t.Error("cursor of the vanished name a.log not deleted")
	}
	if p, _ := sink.position(t, h.path("b.log")); p.Offset != int64(len(a+b)) {
		t.Errorf("b.log offset %d, want %d", p.Offset, len(a+b))
	}
}

func TestFileTruncation(t *testing.T) {
	for _, tt := range []struct {
		name  string
		after string // written after truncation, before the next poll
	}{
		{name: "shorter", after: "n-0\n"},
		// longer than the old offset: only the fingerprint shows it
		{name: "longer", after: "n-0\nn-1\nn-2\nn-3\nn-4\nn-5\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/app.log", "")
			sink := newFileTestSink()
			h := startFile(t, dir, "app.log", sink, nil)
			o, idsO := lines("o", 0, 3)
			appendFile(t, h.path("app.log"), o)
			h.step()
			wantIDs(t, sink.take(), idsO)

			// copytruncate: copy away, truncate in place, the writer goes on
			if err := os.Truncate(h.path("app.log"), 0); err != nil {
				t.Fatal(err)
			}
			appendFile(t, h.path("app.log"), tt.after)
			h.step()
			wantIDs(t, sink.take(), strings.Fields(tt.after))
			if got := h.metric("truncations_total"); got != 1 {
				t.Errorf("truncations_total = %v, want 1", got)
			}
			if p, _ := sink.position(t, h.path("app.log")); p.Offset != int64(len(tt.after)) {
				t.Errorf("offset %d, want %d", p.Offset, len(tt.after))
			}
		})
	}
}

func TestFileDeletedAndRecreated(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, nil)
	a, idsA := lines("a", 0, 2)
	appendFile(t, h.path("app.log"), a)
	h.step()
	wantIDs(t, sink.take(), idsA)

	if err := os.Remove(h.path("app.log")); err != nil {
		t.Fatal(err)
	}
	h.step()
	h.step()
	if got := h.metric("files_followed"); got != 0 {
		t.Fatalf("files_followed = %v after delete, want 0", got)
	}
	if _, ok := sink.position(t, h.path("app.log")); ok {
		t.Error("cursor of the deleted file not deleted")
	}
	b, idsB := lines("b", 0, 3)
	writeFile(t, h.path("app.log"), b)
	h.step()
	wantIDs(t, sink.take(), idsB)
}

func TestFileNewFilesAreReadFromTheStart(t *testing.T) {
	dir := t.TempDir()
	sink := newFileTestSink()
	h := startFile(t, dir, "push-*.log", sink, nil) // StartAtEnd applies only to files present at start-up
	a, idsA := lines("a", 0, 3)
	writeFile(t, h.path("push-a.log"), a)
	writeFile(t, h.path("other.log"), "x-1\n")
	h.step()
	wantIDs(t, sink.take(), idsA)
	b, idsB := lines("b", 0, 3)
	writeFile(t, h.path("push-b.log"), b)
	h.step()
	wantIDs(t, sink.take(), idsB)
	if got := h.metric("files_followed"); got != 2 {
		t.Errorf("files_followed = %v, want 2", got)
	}
}

func TestFileLongLines(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, func(o *FileOptions) { o.MaxLineBytes = 10 })

	// whole in one read, then one spread over three polls
	appendFile(t, h.path("app.log"), "id-1\n"+strings.Repeat("x", 11)+"\nid-2\n"+"0123456789\n")
	h.step()
	wantIDs(t, sink.take(), []string{"id-1", "id-2", "0123456789"})
	appendFile(t, h.path("app.log"), "id-3\nyyyyyyyy")
	h.step()
	appendFile(t, h.path("app.log"), "yyyyyyyy")
	h.step()
	appendFile(t, h.path("app.log"), "yyyy\nid-4\n")
	h.step()
	wantIDs(t, sink.take(), []string{"id-3", "id-4"})
	if got := h.metric("lines_skipped_total", ReasonTooLong); got != 2 {
		t.Errorf("too_long = %v, want 2", got)
	}
	if got := h.metric("lines_read_total"); got != 7 {
		t.Errorf("lines_read_total = %v, want 7", got)
	}
}

func TestFileLongLineWithDefaultLimitAcrossReads(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, nil)
	appendFile(t, h.path("app.log"), "id-1\n"+strings.Repeat("z", 3*readBufferBytes)+"\nid-2\n")
	h.step()
	wantIDs(t, sink.take(), []string{"id-1", "id-2"})
	if got := h.metric("lines_skipped_total", ReasonTooLong); got != 1 {
		t.Errorf("too_long = %v, want 1", got)
	}
}

func TestFileJunkIsHarmless(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, func(o *FileOptions) {
		o.Format, o.Regex = FormatRegex, testRegex
	})
	appendFile(t, h.path("app.log"),
		"\xff\xfe msg_id=ok-1 \x00\x00\n"+ // junk around a good ID
			"\x00\x00\x00\n"+ // no ID
			"msg_id=ok-2\xff\n"+ // the regex stops at the junk
			"\n"+
			"msg_id=ok-3\n")
	h.step()
	wantIDs(t, sink.take(), []string{"ok-1", "ok-2", "ok-3"})
	if got := h.metric("lines_skipped_total", ReasonNoID); got != 2 {
		t.Errorf("no_id = %v, want 2", got)
	}
}

func TestFileInvalidAndBadJSONCounted(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, func(o *FileOptions) { o.Format, o.JSONField = FormatJSON, "ev.id" })
	appendFile(t, h.path("app.log"),
		`{"ev":{"id":"j-1"}}`+"\n"+
			`{"ev":{"id":"has space"}}`+"\n"+
			`{"ev":{"id":"\u0000"}}`+"\n"+
			`{"ev":{"other":1}}`+"\n"+
			`{"ev":`+"\n"+
			"\xff\x00\n"+
			`{"ev":{"id":12345}}`+"\n")
	h.step()
	wantIDs(t, sink.take(), []string{"j-1", "12345"})
	for reason, want := range map[string]float64{ReasonInvalidID: 2, ReasonNoID: 1, ReasonBadJSON: 2, ReasonTooLong: 0} {
		if got := h.metric("lines_skipped_total", reason); got != want {
			t.Errorf("%s = %v, want %v", reason, got, want)
		}
	}
	if got := h.metric("lines_with_id_total"); got != 2 {
		t.Errorf("lines_with_id_total = %v, want 2", got)
	}
}

// A File restarted with the saved cursors reads what was written while it
// was down, and nothing twice; a file replaced or truncated while down is
// read from its start.
func TestFileRestartResumes(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"same.log", "replaced.log", "truncated.log"} {
		writeFile(t, dir+"/"+n, "")
	}
	sink := newFileTestSink()
	h := startFile(t, dir, "*.log", sink, nil)
	before, idsBefore := lines("before", 0, 3)
	for _, n := range []string{"same.log", "replaced.log", "truncated.log"} {
		appendFile(t, h.path(n), before)
	}
	h.step()
	wantIDs(t, sink.take(), idsBefore, idsBefore, idsBefore)
	h.stop()

	down, idsDown := lines("down", 0, 3)
	appendFile(t, h.path("same.log"), down)
	os.Remove(h.path("replaced.log"))
	writeFile(t, h.path("replaced.log"), "r-1\n")
	writeFile(t, h.path("truncated.log"), "t-1\n")

	h2 := startFile(t, dir, "*.log", sink, nil)
	wantIDs(t, sink.take(), idsDown, []string{"r-1", "t-1"})
	after, idsAfter := lines("after", 0, 2)
	appendFile(t, h2.path("same.log"), after)
	h2.step()
	wantIDs(t, sink.take(), idsAfter)
}

func TestFileFinalCursorsOnStop(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, nil)
	appendFile(t, h.path("app.log"), "no id here\n")
	h.step()
	sink.mu.Lock()
	sink.offers = nil
	sink.mu.Unlock()
	h.stop()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.offers) != 1 || sink.offers[0].cursor == nil || sink.offers[0].n != 0 {
		t.Fatalf("offers on stop: %+v, want one cursor", sink.offers)
	}
	p, err := decodePosition(sink.offers[0].cursor.Value)
	if err != nil || p.Offset != int64(len("no id here\n")) {
		t.Fatalf("final position %+v, %v", p, err)
	}
}

func TestFileBatches(t *testing.T) {
	dir := t.TempDir()
	data, ids := lines("id", 0, 2500)
	writeFile(t, dir+"/app.log", data)
	sink := newFileTestSink()
	startFile(t, dir, "app.log", sink, func(o *FileOptions) { o.StartAtEnd = false })
	wantIDs(t, sink.take(), ids)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var last int64
	for _, o := range sink.offers {
		if o.n > maxBatchIDs || o.cursor == nil {
			t.Fatalf("offer of %d IDs, cursor %v", o.n, o.cursor)
		}
		p, _ := decodePosition(o.cursor.Value)
		if p.Offset <= last {
			t.Fatalf("cursor offset %d after %d", p.Offset, last)
		}
		last = p.Offset
	}
	if len(sink.offers) != 3 || last != int64(len(data)) {
		t.Fatalf("%d offers ending at %d, want 3 ending at %d", len(sink.offers), last, len(data))
	}
}

func TestFileRealClock(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	f, err := NewFile(FileOptions{Pattern: dir + "/app.log", Format: FormatPlain, PollInterval: 5 * time.Millisecond}, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	sink.waitOffer(t) // the start position
	appendFile(t, dir+"/app.log", "id-1\n")
	for len(sink.take()) == 0 {
		sink.waitOffer(t)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestNewFileErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    FileOptions
		want string
	}{
		{"no path", FileOptions{Format: FormatPlain}, "file source: empty path"},
		{"bad glob", FileOptions{Pattern: "/x/[", Format: FormatPlain}, `file source "/x/[": syntax error in pattern`},
		{"bad format", FileOptions{Pattern: "/x", Format: "xml"}, `file source "/x": unknown format "xml" (want regex, json or plain)`},
		{"no regex", FileOptions{Pattern: "/x", Format: FormatRegex}, `file source "/x": format regex needs a regex`},
		{"no group", FileOptions{Pattern: "/x", Format: FormatRegex, Regex: regexp.MustCompile(`id=(\w+)`)},
			`file source "/x": regex "id=(\\w+)" has no named group push_id`},
		{"bad json path", FileOptions{Pattern: "/x", Format: FormatJSON, JSONField: "a..b"},
			`file source "/x": json_field "a..b" has an empty path element`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFile(tt.o, newFileTestSink())
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

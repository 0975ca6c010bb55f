package source

import (
	"errors"
	"strings"
	"testing"
)

func TestPositionResumeAt(t *testing.T) {
	content := strings.Repeat("line of a log\n", 30) // longer than fingerprintBytes
	r := strings.NewReader(content)
	fp, err := fingerprint(r, fingerprintBytes)
	if err != nil {
		t.Fatal(err)
	}
	saved := position{Offset: 100, Dev: 1, Ino: 7, FP: fp, FPLen: fingerprintBytes}
	size := int64(len(content))
	for _, tt := range []struct {
		name string
		p    position
		id   fileIdentity
		size int64
		want int64 // -1: errChanged
	}{
		{name: "same file", p: saved, id: fileIdentity{1, 7}, size: size, want: 100},
		{name: "at its end", p: saved, id: fileIdentity{1, 7}, size: 100 + 156, want: 100},
		{name: "other device, same inode and content", p: saved, id: fileIdentity{2, 7}, size: size, want: 100},
		{name: "other inode", p: saved, id: fileIdentity{1, 8}, size: size, want: -1},
		{name: "truncated", p: saved, id: fileIdentity{1, 7}, size: 99, want: -1},
		{name: "shorter than the fingerprint", p: position{Offset: 0, Ino: 7, FP: fp, FPLen: fingerprintBytes}, id: fileIdentity{1, 7}, size: 200, want: -1},
		{name: "inode reused", p: position{Offset: 100, Ino: 7, FP: fp + 1, FPLen: fingerprintBytes}, id: fileIdentity{1, 7}, size: size, want: -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.resumeAt(r, tt.id, tt.size)
			if tt.want < 0 {
				if !errors.Is(err, errChanged) {
					t.Fatalf("got %d, %v; want errChanged", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestPositionEncoding(t *testing.T) {
	p := position{Offset: 1 << 40, Dev: 2049, Ino: 1<<63 + 5, FP: 1<<64 - 1, FPLen: 17}
	got, err := decodePosition(p.encode())
	if err != nil || got != p {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, p)
	}
	for _, bad := range []string{"", "{", `{"offset":-1}`, `{"fp_len":257}`, `{"offset":"1"}`} {
		if _, err := decodePosition([]byte(bad)); err == nil {
			t.Errorf("decodePosition(%q) succeeded", bad)
		}
	}
}

// An unreadable saved cursor means the file was followed before: read it
// from the start rather than skip to its end.
func TestFileUnreadableCursorReadsFromStart(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "id-1\n")
	sink := newFileTestSink()
	sink.cursors["file:"+dir+"/app.log"] = []byte("garbage")
	startFile(t, dir, "app.log", sink, nil)
	wantIDs(t, sink.take(), []string{"id-1"})
}

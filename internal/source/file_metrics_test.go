package source

import (
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestFileMetrics runs every kind of line, a rotation and a truncation
// through one source and compares all file metrics with
// testdata/file-metrics.prom.
func TestFileMetrics(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "*.log", sink, func(o *FileOptions) {
		o.Pattern = "/nonexistent/app/*.log" // the label; its first poll finds nothing
		o.Format, o.JSONField = FormatJSON, "id"
		o.MaxLineBytes = 40
	})
	// startFile built the options around dir; follow dir but label as configured
	h.file.glob = dir + "/*.log"
	appendFile(t, h.path("app.log"), strings.Join([]string{
		`{"id":"p-1"}`, `{"id":"p-2"}`, `{"id":"bad id"}`, `{"id":1}`, `{}`, `{`,
		`{"id":"` + strings.Repeat("x", 40) + `"}`,
	}, "\n")+"\n"+`{"id":"p-3"`)
	h.step()
	if err := os.Rename(h.path("app.log"), h.path("app.log.1")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, h.path("app.log"), `{"id":"p-4"}`+"\n")
	h.step()
	if err := os.Truncate(h.path("app.log"), 0); err != nil {
		t.Fatal(err)
	}
	h.step()
	appendFile(t, h.path("app.log"), `{"id":"p-5"}`+"\n"+`{"id":`) // an unfinished line: read, waiting
	h.step()

	golden, err := os.Open("testdata/file-metrics.prom")
	if err != nil {
		t.Fatal(err)
	}
	defer golden.Close()
	if err := testutil.GatherAndCompare(h.reg, golden); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(h.reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

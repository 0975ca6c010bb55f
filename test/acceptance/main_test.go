package acceptance

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binary is the exporter built by TestMain; raceEnabled is set by
// race_test.go when the tests themselves run with -race.
var (
	binary      string
	raceEnabled bool
)

// TestMain builds the exporter once, as `go build` would for a user.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself; no need to build
	}
	dir, err := os.MkdirTemp("", "timpush-acceptance-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "timpush_exporter")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/timpush/timpush_exporter")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go %v: %v\n%s", args, err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// skipShort marks a test as slow (real time, a real binary).
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("acceptance test of the built binary: skipped with -short")
	}
}

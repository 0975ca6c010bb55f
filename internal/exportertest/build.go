// Package exportertest runs the timpush_exporter binary for tests: it builds
// the binary once per test binary (with -race when the tests run with
// -race), starts it, hands back the addresses its listeners logged, and keeps
// everything it writes, so a test waits for a log line instead of sleeping.
// It also has LogBuffer, for tests that give an in-process logger a buffer
// written from other goroutines.
//
// A package whose tests call Binary runs them through Main:
//
//	func TestMain(m *testing.M) { exportertest.Main(m) }
package exportertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildTimeout bounds one go build; a -race build with a cold cache on a
// busy two-core machine takes minutes.
const buildTimeout = 10 * time.Minute

var (
	binDir    string // made by Main, removed when the tests are done
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Main runs a package's tests, then removes the binary Binary built for
// them. Call it from TestMain.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "timpush-exportertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "exportertest:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Binary returns the exporter built for this test binary, building it on
// the first call: tests skipped with -short build nothing. It skips the test
// when the go command is not on PATH.
func Binary(t testing.TB) string {
	t.Helper()
	if binDir == "" {
		t.Fatal("exportertest.Binary: the package's TestMain must call exportertest.Main")
	}
	requireGo(t)
	buildOnce.Do(func() {
		binary, buildErr = build(filepath.Join(binDir, "timpush_exporter"))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// Build builds an exporter of the test's own, passing buildArgs to go build
// (e.g. -buildvcs=true), and returns its path. Most tests want Binary.
func Build(t testing.TB, buildArgs ...string) string {
	t.Helper()
	requireGo(t)
	bin, err := build(filepath.Join(t.TempDir(), "timpush_exporter"), buildArgs...)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func requireGo(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH: cannot build the exporter")
	}
}

// build runs go build as a user would, with -race added when the tests run
// with it, so the exporter's races show in its output (Start fails the test
// on them).
func build(bin string, buildArgs ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(append(args, buildArgs...), "github.com/timpush/timpush_exporter")
	if out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

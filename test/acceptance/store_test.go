package acceptance

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/exportertest"
	"github.com/timpush/timpush_exporter/internal/simulator"
)

// TestLockedStore starts a second exporter on the --storage.path of a
// running one: it must exit non-zero within 5 s, saying that the state
// file is locked, and leave the first one running.
func TestLockedStore(t *testing.T) {
	skipShort(t)
	t.Parallel()
	env := newEnv(t, 1, simulator.Faults{})
	env.exp.startReady()

	// The same config and state directory; the listeners would be on
	// ports of their own (port 0), but the state file is opened first.
	second := exportertest.Start(t, exportertest.Binary(t), env.exp.args()...)
	err := second.Wait(5 * time.Second)
	out := second.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("the second exporter: %v, want a non-zero exit; output:\n%s", err, out)
	}
	if !strings.Contains(strings.ToLower(out), "lock") {
		t.Errorf("the second exporter's error does not mention the lock:\n%s", out)
	}
	lines := second.Lines()
	t.Logf("second exporter: %v\n%s", err, strings.Join(lines[max(0, len(lines)-5):], "\n"))
	if !env.exp.running() {
		t.Fatal("the first exporter stopped")
	}
	mustScrape(t, env.exp.metricsAddr())
	env.exp.stop()
}

// TestCorruptStore starts the exporter on a state.db that is not a
// database: it must start fresh, say so loudly in its log, export
// timpush_exporter_state_file_moved_aside 1 and keep the unreadable file
// as state.db.corrupt-<time>. The next start finds a good file.
func TestCorruptStore(t *testing.T) {
	skipShort(t)
	t.Parallel()
	env := newEnv(t, 1, simulator.Faults{})
	if err := os.MkdirAll(env.exp.storage, 0o700); err != nil {
		t.Fatal(err)
	}
	garbage := []byte(strings.Repeat("this is not a bbolt database\x00\xff", 1000))
	if err := os.WriteFile(filepath.Join(env.exp.storage, "state.db"), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	env.exp.startReady()
	s := mustScrape(t, env.exp.metricsAddr())
	if got := s.get("timpush_exporter_state_file_moved_aside"); got != 1 {
		t.Errorf("timpush_exporter_state_file_moved_aside = %v, want 1", got)
	}
	moved, err := filepath.Glob(filepath.Join(env.exp.storage, "state.db.corrupt-*"))
	if err != nil || len(moved) != 1 {
		t.Fatalf("moved-aside files: %v (%v), want one state.db.corrupt-*", moved, err)
	}
	if b, err := os.ReadFile(moved[0]); err != nil || string(b) != string(garbage) {
		t.Errorf("%s does not hold the original bytes (%v)", moved[0], err)
	}
	var loud string
	for _, line := range strings.Split(env.exp.log(), "\n") {
		if strings.Contains(line, "level=error") && strings.Contains(strings.ToLower(line), "corrupt") && strings.Contains(line, moved[0]) {
			loud = line
		}
	}
	if loud == "" {
		t.Errorf("no error-level log line announces the corrupt state file and where it went")
	}
	t.Logf("log: %s", loud)
	env.exp.stop()

	env.exp.startReady()
	if got := mustScrape(t, env.exp.metricsAddr()).get("timpush_exporter_state_file_moved_aside"); got != 0 {
		t.Errorf("after a clean restart timpush_exporter_state_file_moved_aside = %v, want 0", got)
	}
	env.exp.stop()
}

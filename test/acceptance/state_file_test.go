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
)

// TestStateFileIOErrorExits: a state file that cannot be opened for a reason
// other than its content (here a directory in its place, which fails the
// same way as root or not) stops the exporter with a message naming it, and
// is not moved aside (issue 13.2).
func TestStateFileIOErrorExits(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state.db")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	p := exportertest.Start(t, exportertest.Binary(t), "--demo", "--storage.path", dir, "--web.listen-address", "127.0.0.1:0")
	err := p.Wait(20 * time.Second) // before the fix the file was moved aside and the exporter ran on
	out := p.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; output:\n%s", err, out)
	}
	if !strings.Contains(out, state) || !strings.Contains(out, "is a directory") {
		t.Errorf("output does not name %s and the cause:\n%s", state, out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("storage directory holds %d entries, want only state.db untouched", len(entries))
	}
}

package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/timpush/timpush_exporter/internal/exportertest"
)

// TestExampleConfigCheck runs the full examples/timpush_exporter.yml through
// --config.check, with the /etc/timpush/ files it names provided in a
// directory of their own. With the files group-readable, as a Kubernetes
// Secret volume gives them, the check passes without a warning; a
// world-readable key draws one.
func TestExampleConfigCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the exporter: skipped with -short")
	}
	example := readRepoFile(t, "examples/timpush_exporter.yml")
	refs := regexp.MustCompile(`(?m)^\s*\w+_file: /etc/timpush/(\S+)`).FindAllStringSubmatch(example, -1)
	if len(refs) == 0 {
		t.Fatal("the example names no /etc/timpush/ file")
	}
	bin := exportertest.Binary(t)

	for _, tt := range []struct {
		name     string
		mode     os.FileMode
		warnings int
	}{
		{"private files", 0o600, 0},
		{"group-readable files (Kubernetes fsGroup)", 0o440, 0},
		{"world-readable files", 0o644, len(refs)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, m := range refs {
				path := filepath.Join(dir, m[1])
				if err := os.WriteFile(path, []byte("secret-of-"+m[1]+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			cfg := filepath.Join(dir, "timpush_exporter.yml")
			if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(example, "/etc/timpush/", dir+"/")), 0o600); err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(bin, "--config.file="+cfg, "--config.check")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("--config.check: %v\nstdout: %s\nstderr: %s", err, &stdout, &stderr)
			}
			if want := cfg + ": OK (2 apps, 2 file sources, webhook true)\n"; stdout.String() != want {
				t.Errorf("stdout %q, want %q", &stdout, want)
			}
			if got := strings.Count(stderr.String(), "level=warn"); got != tt.warnings {
				t.Errorf("%d warnings, want %d:\n%s", got, tt.warnings, &stderr)
			}
		})
	}
}

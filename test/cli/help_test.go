package cli

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/timpush/timpush_exporter/internal/exportertest"
)

// TestHelpGroupsFlags: --help lists the flags grouped by their prefix
// (config.*, storage.*, web.*, log.*), as the toolkit's exporters do, so a
// reader finds every web flag in one place.
func TestHelpGroupsFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the exporter: skipped with -short")
	}
	bin := exportertest.Binary(t)
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--(?:\[no-\])?([a-z][\w.-]*)`).FindAllStringSubmatch(string(out), -1) {
		flags = append(flags, m[1])
	}
	for _, want := range []string{"config.file", "web.telemetry-path", "web.listen-address", "web.config.file", "storage.path", "log.level", "log.format"} {
		if !contains(flags, want) {
			t.Errorf("--help does not list --%s:\n%s", want, out)
		}
	}
	seen := map[string]bool{}
	prev := ""
	for _, f := range flags {
		group, _, dotted := strings.Cut(f, ".")
		if !dotted {
			group = f // --help, --demo, --version: a group of one
		}
		if group != prev && seen[group] {
			t.Errorf("--%s is apart from the other %s.* flags: %v", f, group, flags)
		}
		seen[group], prev = true, group
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

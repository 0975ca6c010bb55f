// Package logs starts the real exporter and checks the shape of every line
// it logs, its own and exporter-toolkit's, in logfmt and in JSON.
package logs

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/exportertest"
	"github.com/timpush/timpush_exporter/internal/logging/logtest"
)

func TestMain(m *testing.M) { exportertest.Main(m) }

// TestStartupLines runs the exporter in demo mode until exporter-toolkit
// logs "Listening on", stops it, and checks every line of that run: exactly
// one ts, caller, level and msg each, and the toolkit's lines carry the
// toolkit's own caller (tls_config.go), not the slog bridge's.
func TestStartupLines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the exporter: skipped with -short")
	}
	dir := t.TempDir()
	bin := exportertest.Binary(t)
	for _, format := range []string{"logfmt", "json"} {
		t.Run(format, func(t *testing.T) {
			p := exportertest.Start(t, bin, "--demo", "--log.format="+format,
				"--storage.path="+filepath.Join(dir, "data-"+format),
				"--web.listen-address=127.0.0.1:0")
			p.WaitFor("Listening on", time.Minute)
			lines := p.Stop(30 * time.Second)

			var listening, stopped bool
			for _, s := range lines {
				l, err := logtest.Parse(format, s)
				if err != nil {
					t.Errorf("%v", err)
					continue
				}
				if problems := logtest.CheckShape(l); len(problems) > 0 {
					t.Errorf("%s\n  %s", s, strings.Join(problems, "\n  "))
				}
				if c := l.Get("caller"); strings.HasPrefix(c, "slog.go:") || strings.HasPrefix(c, "logging.go:") {
					t.Errorf("caller %s is the logging package, not the code that logged: %s", c, s)
				}
				switch l.Get("msg") {
				case "Listening on":
					listening = true
					if c := l.Get("caller"); !strings.HasPrefix(c, "tls_config.go:") {
						t.Errorf("exporter-toolkit's line has caller %q, want tls_config.go:<line>: %s", c, s)
					}
				case "stopped":
					stopped = true
				}
			}
			if !listening || !stopped {
				t.Errorf("want the toolkit's \"Listening on\" and our \"stopped\" among the lines:\n%s", strings.Join(lines, "\n"))
			}
			t.Logf("%d lines checked", len(lines))
		})
	}
}

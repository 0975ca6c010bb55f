package promeval

import (
	"os/exec"
	"strings"
	"testing"
)

// Prometheus's own packages (and the hundreds of modules behind them) are
// for this test tool only: the exporter binary must not link any of them.
func TestExporterBinaryDoesNotImportPrometheusServer(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to list the exporter's packages")
	}
	const main = "github.com/timpush/timpush_exporter"
	out, err := exec.Command(goTool, "list", "-deps", main).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", main, err, out)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 100 || !strings.Contains(string(out), main+"/collector") {
		t.Fatalf("go list -deps %s listed %d packages without its collector: not the list expected", main, len(pkgs))
	}
	for _, p := range pkgs {
		if p == "github.com/prometheus/prometheus" || strings.HasPrefix(p, "github.com/prometheus/prometheus/") {
			t.Errorf("the exporter binary links %s", p)
		}
	}
}

// Package cli runs the exporter the way a newcomer first does: --version,
// --help, --config.check of the full example, and the build_info metric of
// a running binary, and checks the build files that stamp the version.
package cli

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/exportertest"
)

const repoRoot = "../.."

func TestMain(m *testing.M) { exportertest.Main(m) }

// vcsBuild builds the exporter with -buildvcs=true (this machine's GOFLAGS
// may say -buildvcs=false) and returns it with the commit the go command
// recorded in it, or "" with the reason it recorded none.
func vcsBuild(t *testing.T) (bin, head, dirty, why string) {
	t.Helper()
	out, err := exec.Command("git", "-C", repoRoot, "rev-parse", "HEAD").Output()
	if err != nil {
		return exportertest.Binary(t), "", "", "not a git checkout (git rev-parse HEAD failed)"
	}
	head = strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", repoRoot, "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		dirty = "-modified"
	}
	bin = exportertest.Build(t, "-buildvcs=true")
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	if !strings.Contains(string(info), "vcs.revision="+head) {
		return bin, "", "", "the go command recorded no revision: a git worktree (whose .git is a file) is not stamped, a clone is"
	}
	return bin, head, dirty, ""
}

var versionRE = regexp.MustCompile(`^timpush_exporter, version (\S+) \(branch: (\S*), revision: (\S+)\)`)

// TestVersion: a plain go build prints a real version and revision in
// --version, and timpush_exporter_build_info says the same.
func TestVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the exporter: skipped with -short")
	}
	bin, head, dirty, why := vcsBuild(t)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("--version printed\n%s\nwant a first line like %s", out, versionRE)
	}
	ver, rev := m[1], m[3]
	if ver == "" {
		t.Errorf("--version: empty version:\n%s", out)
	}
	if why != "" {
		t.Logf("revision not checked: %s; version %q, revision %q", why, ver, rev)
	} else {
		if rev != head+dirty {
			t.Errorf("--version: revision %q, want git rev-parse HEAD %q (with -modified when the tree has changes)", rev, head+dirty)
		}
		// Go stamps a pseudo-version naming the commit: v0.0.0-<time>-<12 hex>.
		if !strings.Contains(ver, head[:12]) {
			t.Errorf("--version: version %q does not name commit %s", ver, head[:12])
		}
		t.Logf("version %q, revision %q (git rev-parse HEAD %s)", ver, rev, head)
	}

	labels := buildInfo(t, bin)
	if labels["version"] != ver || labels["revision"] != rev {
		t.Errorf("timpush_exporter_build_info has version %q, revision %q; --version says %q, %q",
			labels["version"], labels["revision"], ver, rev)
	}
}

// buildInfo starts bin in demo mode and returns the labels of its
// timpush_exporter_build_info.
func buildInfo(t *testing.T, bin string) map[string]string {
	t.Helper()
	p := exportertest.Start(t, bin, "--demo", "--storage.path="+filepath.Join(t.TempDir(), "data"),
		"--web.listen-address=127.0.0.1:0")
	body := get(t, "http://"+p.Addr("metrics", time.Minute)+"/metrics")
	p.Stop(30 * time.Second)
	for _, l := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(l, "timpush_exporter_build_info{"); ok {
			labels := map[string]string{}
			for _, kv := range regexp.MustCompile(`(\w+)="([^"]*)"`).FindAllStringSubmatch(rest, -1) {
				labels[kv[1]] = kv[2]
			}
			return labels
		}
	}
	t.Fatalf("/metrics has no timpush_exporter_build_info:\n%s", body)
	return nil
}

func get(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(body)
}

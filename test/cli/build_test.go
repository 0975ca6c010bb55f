package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestBuildStampsAgree: promu (.promu.yml), make build and the Dockerfile
// build with the same flags and stamp the same version variables, so that a
// release tarball, a make build and an image report their version alike.
func TestBuildStampsAgree(t *testing.T) {
	promu := readRepoFile(t, ".promu.yml")
	makefile := readRepoFile(t, "Makefile")
	dockerfile := readRepoFile(t, "Dockerfile")

	pkg := regexp.MustCompile(`(?m)^VERSION_PKG\s*:=\s*(\S+)`).FindStringSubmatch(makefile)
	if pkg == nil {
		t.Fatal("Makefile: no VERSION_PKG")
	}
	makeStamps := stamps(strings.ReplaceAll(makefile, "$(VERSION_PKG)", pkg[1]))
	promuStamps := stamps(promu)
	if len(promuStamps) != 5 || !reflect.DeepEqual(makeStamps, promuStamps) {
		t.Errorf("-X stamps differ:\n.promu.yml %q\nMakefile   %q", promuStamps, makeStamps)
	}

	promuFlags := regexp.MustCompile(`(?m)^\s+flags:\s*(.+)$`).FindStringSubmatch(promu)
	makeFlags := regexp.MustCompile(`(?m)^BUILD_FLAGS\s*:=\s*(.+)$`).FindStringSubmatch(makefile)
	if promuFlags == nil || makeFlags == nil || strings.TrimSpace(promuFlags[1]) != strings.TrimSpace(makeFlags[1]) {
		t.Errorf("build flags differ: .promu.yml %q, Makefile %q", promuFlags, makeFlags)
	}
	if !regexp.MustCompile(`(?m)^RUN .*make build\b`).MatchString(dockerfile) || strings.Contains(dockerfile, "go build") {
		t.Error("the Dockerfile must build with make build (the Makefile's stamps), not a go build of its own")
	}
}

// stamps are the variables that -X sets, in order.
func stamps(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`-X '?([\w./-]+)=`).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// Package buildinfo fills the blank fields of prometheus/common's version
// package from what the go command recorded in the binary, so that a plain
// go build, go install or go run prints a real version and revision (in
// --version, the start-up log line and timpush_exporter_build_info). A
// release build sets those fields with -ldflags -X, and what it set wins.
package buildinfo

import (
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/common/version"
)

// Fill sets each of version.Version, Revision and BuildDate that is still
// empty. Call it before anything reads them: the version collector copies
// them when it is created.
func Fill() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	f := fromBuildInfo(bi)
	setIfEmpty(&version.Version, f.version)
	setIfEmpty(&version.Revision, f.revision)
	setIfEmpty(&version.BuildDate, f.date)
}

type fields struct{ version, revision, date string }

// fromBuildInfo reads the module version ("v1.2.3", a pseudo-version for a
// build in a git checkout, "(devel)" without one) and the vcs.* settings.
// Versions lose their "v", as in Prometheus's VERSION files and promu
// builds; the revision gets "-modified" for a tree with uncommitted changes,
// as prometheus/common's own fallback does; the date is the commit's, in
// promu's BuildDate layout.
func fromBuildInfo(bi *debug.BuildInfo) fields {
	var f fields
	switch v := bi.Main.Version; v {
	case "", "(devel)":
		f.version = "devel"
	default:
		f.version = strings.TrimPrefix(v, "v")
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			f.revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		case "vcs.time":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				f.date = t.UTC().Format("20060102-15:04:05")
			}
		}
	}
	if f.revision != "" && modified {
		f.revision += "-modified"
	}
	return f
}

func setIfEmpty(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

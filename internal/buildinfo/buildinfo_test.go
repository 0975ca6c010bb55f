package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/prometheus/common/version"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := func(rev, tm, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-buildmode", Value: "exe"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: tm},
			{Key: "vcs.modified", Value: modified},
		}
	}
	const rev = "8af73b8c0ffee0000000000000000000000000aa"
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want fields
	}{
		{
			name: "go install of a tagged version",
			bi:   debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}},
			want: fields{version: "1.4.0"},
		},
		{
			name: "go build in a clean git checkout",
			bi: debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202141200-8af73b8c0ffe"},
				Settings: vcs(rev, "2026-12-02T14:12:00Z", "false")},
			want: fields{version: "0.0.0-20261202141200-8af73b8c0ffe", revision: rev, date: "20261202-14:12:00"},
		},
		{
			name: "go build with uncommitted changes",
			bi: debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202141200-8af73b8c0ffe+dirty"},
				Settings: vcs(rev, "2026-12-02T22:12:00+08:00", "true")},
			want: fields{version: "0.0.0-20261202141200-8af73b8c0ffe+dirty", revision: rev + "-modified", date: "20261202-14:12:00"},
		},
		{
			name: "go build without VCS information (-buildvcs=false)",
			bi:   debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: fields{version: "devel"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fromBuildInfo(&tt.bi); got != tt.want {
				t.Errorf("fromBuildInfo = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Values set with -ldflags -X (a release build) are kept.
func TestFillKeepsWhatLdflagsSet(t *testing.T) {
	saved := [...]string{version.Version, version.Revision, version.BuildDate, version.Branch}
	t.Cleanup(func() {
		version.Version, version.Revision, version.BuildDate, version.Branch = saved[0], saved[1], saved[2], saved[3]
	})
	version.Version, version.Revision, version.BuildDate, version.Branch = "2.0.0", "release-rev", "", "main"
	Fill()
	if version.Version != "2.0.0" || version.Revision != "release-rev" || version.Branch != "main" {
		t.Errorf("Fill changed fields set at build time: version %q, revision %q, branch %q",
			version.Version, version.Revision, version.Branch)
	}

	version.Version = ""
	Fill()
	if version.Version == "" {
		t.Error("Fill left an empty Version empty; a test binary has build info")
	}
}

package dashboards

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// overrideSuffix ends the names of the series a user's thresholds.yml
// records and alerts.yml reads.
const overrideSuffix = ":threshold_override"

// overrideLabels are the labels each override level must carry: the
// threshold rules of alerts.yml join on exactly these.
var overrideLabels = map[string][]string{
	"platform_stage":      {"platform", "stage"},
	"platform_push_stage": {"platform", "push_stage"},
}

// overrideNames returns the override series alerts.yml reads.
func overrideNames(t *testing.T) map[string]bool {
	t.Helper()
	var rf ruleFile
	decodeLoose(t, rulesFile, &rf)
	names := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			for _, n := range MetricNames(r.Expr) {
				if strings.HasSuffix(n, overrideSuffix) {
					names[n] = true
				}
			}
		}
	}
	return names
}

// commentedRuleRE finds the lines of a commented-out rule in the groups of
// thresholds.yml: "# - record: …" and its indented continuation lines, not
// the prose.
var commentedRuleRE = regexp.MustCompile(`(?m)^(\s*)# ((?:- record:| {2,}\S).*)$`)

var vectorRE = regexp.MustCompile(`^vector\(([0-9.]+)\)$`)

// TestThresholdOverrides checks thresholds.yml: as shipped it overrides
// nothing, and each commented example, once uncommented as its text says,
// is a valid override that alerts.yml reads, with the labels its threshold
// rule joins on and a ratio between 0 and 1. Every override alerts.yml
// reads has an example.
func TestThresholdOverrides(t *testing.T) {
	want := overrideNames(t)
	if len(want) == 0 {
		t.Fatalf("%s reads no *%s series", rulesFile, overrideSuffix)
	}
	var shipped ruleFile
	decodeStrict(t, overrides, &shipped)
	for _, g := range shipped.Groups {
		if len(g.Rules) != 0 {
			t.Errorf("%s group %s: %d active rules, want only commented examples", overrides, g.Name, len(g.Rules))
		}
	}

	data, err := os.ReadFile(overrides)
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := strings.Cut(string(data), "\ngroups:")
	if !ok {
		t.Fatalf("%s: no groups:", overrides)
	}
	uncommented := head + "\ngroups:" + commentedRuleRE.ReplaceAllString(body, "$1$2")
	var examples ruleFile
	dec := yaml.NewDecoder(strings.NewReader(uncommented))
	dec.KnownFields(true)
	if err := dec.Decode(&examples); err != nil {
		t.Fatalf("%s with its examples uncommented: %v\n%s", overrides, err, uncommented)
	}
	platforms, stages := map[string]bool{}, map[string]bool{}
	for p := 0; p <= 9; p++ {
		platforms[timapi.PlatformName(p)] = true
	}
	for s := timapi.Stage(0); s < timapi.NumStages; s++ {
		stages[s.String()] = true
	}
	seen := map[string]bool{}
	for _, g := range examples.Groups {
		for _, r := range g.Rules {
			seen[r.Record] = true
			if !want[r.Record] {
				t.Errorf("example records %q, which %s does not read (it reads %v)", r.Record, rulesFile, want)
				continue
			}
			level, _, _ := strings.Cut(r.Record, ":")
			labels, ok := overrideLabels[level]
			if !ok {
				t.Errorf("%s: level %q has no known labels", r.Record, level)
				continue
			}
			if len(r.Labels) != len(labels) {
				t.Errorf("%s: labels %v, want exactly %v", r.Record, r.Labels, labels)
			}
			for _, l := range labels {
				if r.Labels[l] == "" {
					t.Errorf("%s: no %s label (labels %v)", r.Record, l, r.Labels)
				}
			}
			if p := r.Labels["platform"]; !platforms[p] {
				t.Errorf("%s: platform %q is not one the exporter exports", r.Record, p)
			}
			if s, ok := r.Labels["stage"]; ok && !stages[s] {
				t.Errorf("%s: stage %q is not one the exporter exports", r.Record, s)
			}
			if s, ok := r.Labels["push_stage"]; ok {
				if _, err := strconv.Atoi(s); err != nil {
					t.Errorf("%s: push_stage %q is not Tencent's PushStage number", r.Record, s)
				}
			}
			m := vectorRE.FindStringSubmatch(strings.TrimSpace(r.Expr))
			if m == nil {
				t.Errorf("%s: expr %q, want vector(<ratio>)", r.Record, r.Expr)
				continue
			}
			if v, err := strconv.ParseFloat(m[1], 64); err != nil || v <= 0 || v > 1 {
				t.Errorf("%s: threshold %s, want a ratio in (0, 1]", r.Record, m[1])
			}
		}
	}
	for n := range want {
		if !seen[n] {
			t.Errorf("%s has no example of %s", overrides, n)
		}
	}
}

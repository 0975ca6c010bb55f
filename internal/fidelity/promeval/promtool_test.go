package promeval

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"go.yaml.in/yaml/v3"
)

// A scenario is a run of scrapes every 15s; body returns the body of
// scrape i, or false for a failed scrape.
type scenario struct {
	name      string
	ruleFiles []string
	length    time.Duration
	body      func(i int) (string, bool)
}

// TestSameAlertsAsPromtool runs scenarios through the evaluator, then
// hands promtool the samples the evaluator stored (without the rule
// results) together with the alerts it had at every evaluation, as a
// `promtool test rules` file. promtool evaluates the same rule files on
// those samples with Prometheus's rule manager and fails on any
// difference: which alerts are pending or firing at which evaluation
// (ALERTS), and the firing alerts' labels and annotations.
func TestSameAlertsAsPromtool(t *testing.T) {
	promtool := findPromtool(t)
	for _, sc := range []scenario{ruleSemantics(), shippedAlerts()} {
		t.Run(sc.name, func(t *testing.T) {
			file, fired := writePromtoolTest(t, sc)
			if len(fired) == 0 {
				t.Fatal("no alert fired: the scenario tests nothing")
			}
			t.Logf("alerts fired: %v", fired)
			out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput()
			if err != nil {
				if len(out) > 6000 {
					out = append(out[:6000], "…"...)
				}
				t.Fatalf("promtool test rules disagrees with the evaluator (%v):\n%s", err, out)
			}
		})
	}
}

// findPromtool returns the promtool of the Prometheus release this module
// builds with ($PROMTOOL, or promtool on PATH), or skips the test.
func findPromtool(t *testing.T) string {
	t.Helper()
	want := prometheusRelease(t)
	install := "go install github.com/prometheus/prometheus/cmd/promtool@" + want.module
	path := os.Getenv("PROMTOOL")
	if path == "" {
		var err error
		if path, err = exec.LookPath("promtool"); err != nil {
			t.Skipf("no promtool on PATH (nor $PROMTOOL): %s to compare with it", install)
		}
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		t.Skipf("%s --version: %v", path, err)
	}
	got := regexp.MustCompile(`version (\d+\.\d+)\.`).FindSubmatch(out)
	if got == nil || string(got[1]) != want.release {
		t.Skipf("%s is not Prometheus %s.x (%q): %s, or set $PROMTOOL", path, want.release, strings.SplitN(string(out), "\n", 2)[0], install)
	}
	return path
}

type release struct{ module, release string } // v0.316.0, 3.16

// prometheusRelease asks the go command which version of
// github.com/prometheus/prometheus this module requires: v0.316.0 is
// Prometheus 3.16.
func prometheusRelease(t *testing.T) release {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/prometheus/prometheus").Output()
	if err != nil {
		t.Skipf("go list -m github.com/prometheus/prometheus: %v", err)
	}
	version := strings.TrimSpace(string(out))
	m := regexp.MustCompile(`^v0\.(\d)(\d\d)\.`).FindStringSubmatch(version)
	if m == nil {
		t.Fatalf("github.com/prometheus/prometheus %s: not a v0.3xx.y version", version)
	}
	minor, _ := strconv.Atoi(m[2])
	return release{version, fmt.Sprintf("%s.%d", m[1], minor)}
}

// writePromtoolTest runs sc through an Evaluator and writes what promtool
// must find. It returns the file and the names of the alerts that fired.
func writePromtoolTest(t *testing.T, sc scenario) (string, []string) {
	t.Helper()
	var ruleFiles []string
	for _, f := range sc.ruleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		ruleFiles = append(ruleFiles, abs)
	}
	e := newEvaluator(t, Options{RuleFiles: ruleFiles, Retention: 25 * time.Hour})
	test := promtoolTest{
		Interval:       model.Duration(15 * time.Second).String(),
		StartTimestamp: t0.Format(time.RFC3339),
	}
	fired := map[string]bool{}
	previous := map[string][]expAlert{}
	steps := int(sc.length / (15 * time.Second))
	for i := range steps {
		at := t0.Add(time.Duration(i) * 15 * time.Second)
		var err error
		if body, ok := sc.body(i); ok {
			err = e.Scrape(at, app, []byte(body), textFormat)
		} else {
			err = e.ScrapeFailed(at, app)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Advance(at); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 { // an evaluation every 30s
			test.expect(at, e.Alerts(), alertNames(e), previous, fired)
		}
	}
	test.InputSeries = scrapedSeries(t, e, steps)
	b, err := yaml.Marshal(promtoolFile{
		RuleFiles:          ruleFiles,
		EvaluationInterval: model.Duration(DefaultEvalInterval).String(),
		GroupEvalOrder:     groupNames(e),
		Tests:              []promtoolTest{test},
	})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "promtool_test.yml")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range fired {
		names = append(names, n)
	}
	return file, names
}

// groupNames lists the groups in the order the Evaluator evaluates them.
// promtool needs it as group_eval_order: without one it sorts the groups
// unstably on an empty key, in map order, so a rule that reads another
// group's result would see it one evaluation old at random.
func groupNames(e *Evaluator) []string {
	var names []string
	for _, g := range e.groups {
		names = append(names, g.Name())
	}
	return names
}

func alertNames(e *Evaluator) []string {
	var names []string
	for _, g := range e.groups {
		for _, r := range g.AlertingRules() {
			names = append(names, r.Name())
		}
	}
	return names
}

// expect adds, for the evaluation at at, the ALERTS series the alerts
// imply, and the firing alerts of each rule that fires or fired at the
// previous evaluation.
func (pt *promtoolTest) expect(at time.Time, alerts []Alert, names []string, previous map[string][]expAlert, fired map[string]bool) {
	evalTime := model.Duration(at.Sub(t0)).String()
	exprTest := exprTest{Expr: "ALERTS", EvalTime: evalTime, ExpSamples: []expSample{}}
	firing := map[string][]expAlert{}
	for _, a := range alerts {
		b := labels.NewBuilder(a.Labels)
		b.Set(model.MetricNameLabel, "ALERTS")
		b.Set("alertstate", a.State.String())
		exprTest.ExpSamples = append(exprTest.ExpSamples, expSample{Labels: seriesString(b.Labels()), Value: 1})
		if a.State == rules.StateFiring {
			firing[a.Name] = append(firing[a.Name], expAlert{Labels: a.Labels.Map(), Annotations: a.Annotations.Map()})
			fired[a.Name] = true
		}
	}
	pt.PromQLExprTests = append(pt.PromQLExprTests, exprTest)
	for _, name := range names {
		if len(firing[name]) > 0 || len(previous[name]) > 0 {
			pt.AlertRuleTests = append(pt.AlertRuleTests, alertTest{EvalTime: evalTime, AlertName: name, ExpAlerts: append([]expAlert{}, firing[name]...)})
		}
		previous[name] = firing[name]
	}
}

// scrapedSeries returns every series the scrapes stored, in promtool's
// notation: one value per 15s step from t0, "_" where there is none and
// "stale" for a staleness marker. Rule results are left to promtool.
func scrapedSeries(t *testing.T, e *Evaluator, steps int) []inputSeries {
	t.Helper()
	recorded := map[string]bool{"ALERTS": true, "ALERTS_FOR_STATE": true}
	for _, g := range e.groups {
		for _, r := range g.Rules() {
			recorded[r.Name()] = true
		}
	}
	q, err := e.head.Querier(t0.UnixMilli(), t0.Add(time.Duration(steps)*15*time.Second).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	var out []inputSeries
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		if recorded[s.Labels().Get(model.MetricNameLabel)] {
			continue
		}
		values := make([]string, steps)
		for i := range values {
			values[i] = "_"
		}
		it = s.Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			step := int(time.UnixMilli(ts).Sub(t0) / (15 * time.Second))
			if value.IsStaleNaN(v) {
				values[step] = "stale"
			} else {
				values[step] = formatFloat(v)
			}
		}
		out = append(out, inputSeries{Series: seriesString(s.Labels()), Values: strings.Join(values, " ")})
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// seriesString is l as promtool writes a series: name{labels}.
func seriesString(l labels.Labels) string {
	isName := func(n string) bool { return n == model.MetricNameLabel }
	return l.Get(model.MetricNameLabel) + l.DropReserved(isName).String()
}

// The `promtool test rules` file format.
type promtoolFile struct {
	RuleFiles          []string       `yaml:"rule_files"`
	EvaluationInterval string         `yaml:"evaluation_interval"`
	GroupEvalOrder     []string       `yaml:"group_eval_order"`
	Tests              []promtoolTest `yaml:"tests"`
}

type promtoolTest struct {
	Interval        string        `yaml:"interval"`
	StartTimestamp  string        `yaml:"start_timestamp"`
	InputSeries     []inputSeries `yaml:"input_series"`
	AlertRuleTests  []alertTest   `yaml:"alert_rule_test,omitempty"`
	PromQLExprTests []exprTest    `yaml:"promql_expr_test,omitempty"`
}

type inputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type alertTest struct {
	EvalTime  string     `yaml:"eval_time"`
	AlertName string     `yaml:"alertname"`
	ExpAlerts []expAlert `yaml:"exp_alerts"`
}

type expAlert struct {
	Labels      map[string]string `yaml:"exp_labels"`
	Annotations map[string]string `yaml:"exp_annotations"`
}

type exprTest struct {
	Expr       string      `yaml:"expr"`
	EvalTime   string      `yaml:"eval_time"`
	ExpSamples []expSample `yaml:"exp_samples"`
}

type expSample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

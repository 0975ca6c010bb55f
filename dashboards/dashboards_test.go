package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/taxonomy"
)

var update = flag.Bool("update", false, "regenerate the files derived from the dashboards and rules (examples/kubernetes)")

const (
	examplesDir = "../examples"
	rulesFile   = "../examples/prometheus/alerts.yml"
	overrides   = "../examples/prometheus/thresholds.yml"
	rulesTest   = "../examples/prometheus/alerts_test.yml"
	k8sRules    = "../examples/kubernetes/prometheusrule.yaml"
	k8sDashes   = "../examples/kubernetes/dashboards.yaml"
	k8sConfig   = "../examples/kubernetes/timpush_exporter.yml"
	k8sSecret   = "../examples/kubernetes/secret.yaml"
	composeDS   = "../examples/docker-compose/grafana/provisioning/datasources/prometheus.yml"
)

// KnownMetrics lists the metric names timpush_exporter exports (histograms
// with their _bucket, _sum and _count series). Dashboards and rules may use
// nothing else.
var knownMetrics = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{
		"push_stage_total", "push_stage_failures_total", "push_instances_total",
		"push_notification_disabled_total",
		"timpush_exporter_pushids_received_total", "timpush_exporter_pushids_sampled_total",
		"timpush_exporter_pushids_dropped_total", "timpush_exporter_trace_queries_total",
		"timpush_exporter_api_errors_total", "timpush_exporter_pending_pushids",
		"timpush_exporter_app_up", "timpush_exporter_rate_limit", "timpush_exporter_build_info",
		"timpush_exporter_config_last_reload_successful",
		"timpush_exporter_config_last_reload_success_timestamp_seconds",
		"timpush_exporter_webhook_requests_total",
		"push_stage_unreported_total", "push_statistics_pushes", "push_loss_pushes", "push_loss_reason_info",
		"timpush_exporter_statistics_last_success_timestamp_seconds", "timpush_exporter_statistics_polls_total",
		"timpush_exporter_sample_ratio",
		"push_callback_events_total", "push_callback_failures_total",
		"timpush_exporter_api_calls_total", "timpush_exporter_query_outcomes_total",
		"timpush_exporter_queries_with_outcomes_total",
	} {
		m[n] = true
	}
	for _, h := range []string{"push_stage_latency_seconds", "timpush_exporter_trace_query_duration_seconds"} {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			m[h+suffix] = true
		}
	}
	return m
}()

func TestDashboards(t *testing.T) {
	paths, err := filepath.Glob("*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboards found: %v", err)
	}
	embedded, err := fs.Glob(FS(), "*.json")
	if err != nil || !reflect.DeepEqual(paths, embedded) {
		t.Fatalf("embedded dashboards %v, files %v", embedded, paths)
	}
	uids := map[string]string{}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(data) {
				t.Fatal("not valid JSON")
			}
			var top map[string]any
			if err := json.Unmarshal(data, &top); err != nil {
				t.Fatal(err)
			}
			if _, ok := top["__inputs"]; ok {
				t.Error("has __inputs: file provisioning cannot fill them; use the datasource variable")
			}
			d, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if d.UID == "" || d.Title == "" {
				t.Errorf("uid %q, title %q: both are required", d.UID, d.Title)
			}
			if other, ok := uids[d.UID]; ok {
				t.Errorf("uid %q also used by %s", d.UID, other)
			}
			uids[d.UID] = path
			checkVariables(t, d)
			checkPanels(t, d)
		})
	}
}

func checkVariables(t *testing.T, d *Dashboard) {
	t.Helper()
	var dsVars int
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			dsVars++
			if v.Name != "datasource" || string(v.Query) != `"prometheus"` {
				t.Errorf("datasource variable %q with query %s, want name datasource, query \"prometheus\"", v.Name, v.Query)
			}
		case "query":
			if !isDatasourceVar(v.Datasource) {
				t.Errorf("variable %s: datasource %+v, want %s", v.Name, v.Datasource, DatasourceVar)
			}
			if _, err := VariableExpr(v.Definition); err != nil {
				t.Errorf("variable %s: %v", v.Name, err)
			}
		}
	}
	if dsVars != 1 {
		t.Errorf("%d variables of type datasource, want 1", dsVars)
	}
}

func checkPanels(t *testing.T, d *Dashboard) {
	t.Helper()
	checkLayout(t, d.Panels)
	ids := map[int]string{}
	for _, p := range d.AllPanels() {
		if p.ID <= 0 {
			t.Errorf("panel %q: id %d, want a positive id", p.Title, p.ID)
		}
		if other, ok := ids[p.ID]; ok {
			t.Errorf("panel id %d used by %q and %q", p.ID, other, p.Title)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			if len(p.Targets) > 0 {
				t.Errorf("row %q has targets", p.Title)
			}
			continue
		}
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if !isDatasourceVar(p.Datasource) {
			t.Errorf("panel %q: datasource %+v, want %s", p.Title, p.Datasource, DatasourceVar)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if !isDatasourceVar(tg.Datasource) {
				t.Errorf("panel %q query %s: datasource %+v, want %s", p.Title, tg.RefID, tg.Datasource, DatasourceVar)
			}
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: refId %q empty or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q query %s: empty expression", p.Title, tg.RefID)
			}
		}
	}
}

// checkLayout checks that the top-level panels fit the 24-column grid and
// that none covers another (Grafana would push one down, out of its row).
func checkLayout(t *testing.T, panels []Panel) {
	t.Helper()
	for i, p := range panels {
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v does not fit the 24-column grid", p.Title, g)
		}
		for _, q := range panels[:i] {
			if g.overlaps(q.GridPos) {
				t.Errorf("panels %q %+v and %q %+v overlap", q.Title, q.GridPos, p.Title, g)
			}
		}
	}
}

func isDatasourceVar(ds *DatasourceRef) bool {
	return ds != nil && ds.UID == DatasourceVar && ds.Type == "prometheus"
}

func TestDashboardMetricNames(t *testing.T) {
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) == 0 {
		t.Fatal("no queries found")
	}
	for _, q := range qs {
		names := MetricNames(q.Expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric found in %q", q, q.Expr)
		}
		for _, n := range names {
			if !knownMetrics[n] {
				t.Errorf("%s: unknown metric %q", q, n)
			}
		}
	}
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
	}{
		{"selector", `up`, []string{"up"}},
		{"matchers and range", `rate(a_total{x="b_total", y=~"$app"}[$__rate_interval])`, []string{"a_total"}},
		{"grouping", `sum by (app, le) (rate(h_bucket[5m])) / on (app) group_left () c`, []string{"c", "h_bucket"}},
		{"trailing grouping", `sum(x) without (instance)`, []string{"x"}},
		{"keywords and numbers", `a > bool 1e3 and b offset 5m or c unless d * inf`, []string{"a", "b", "c", "d"}},
		{"functions", `histogram_quantile(0.95, x) + time() - vector(0)`, []string{"x"}},
		{"recorded names", `lvl:m:ratio15m{stage="channel"} > 0.1`, []string{"lvl:m:ratio15m"}},
		{"label_values rewritten", mustVariableExpr(t, `label_values(m{app=~"$app"}, platform)`), []string{"m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MetricNames(tt.expr); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MetricNames(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
	if got, want := Selectors(`a{x="1", y='{z}'} / on (app) b [5m] + sum(a) by (a)`), []string{`a{x="1", y='{z}'}`, `b`, `a`}; !reflect.DeepEqual(got, want) {
		t.Errorf("Selectors = %q, want %q", got, want)
	}
}

func mustVariableExpr(t *testing.T, def string) string {
	t.Helper()
	e, err := VariableExpr(def)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// ruleFile is the Prometheus rule file format.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Record        string            `yaml:"record"`
			Alert         string            `yaml:"alert"`
			Expr          string            `yaml:"expr"`
			For           string            `yaml:"for"`
			KeepFiringFor string            `yaml:"keep_firing_for"`
			Labels        map[string]string `yaml:"labels"`
			Annotations   map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestRules(t *testing.T) {
	var rf ruleFile
	decodeStrict(t, rulesFile, &rf)
	recorded := map[string]bool{"up": true}
	// The overrides are recorded by the user's thresholds.yml, which ships
	// with examples only: TestThresholdOverrides checks that they match.
	for name := range overrideNames(t) {
		recorded[name] = true
	}
	recordRE := regexp.MustCompile(`^[a-z_]+:[a-z_]+:[a-z0-9_]+$`)
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			switch {
			case r.Record != "":
				if !recordRE.MatchString(r.Record) {
					t.Errorf("record %s: name is not level:metric:operations", r.Record)
				}
				recorded[r.Record] = true
			case r.Alert != "":
				alerts[r.Alert] = true
				if r.For == "" {
					t.Errorf("alert %s: no for: duration", r.Alert)
				}
				if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					t.Errorf("alert %s: wants a severity label and summary and description annotations", r.Alert)
				}
			}
			for _, n := range MetricNames(r.Expr) {
				if !knownMetrics[n] && !recorded[n] {
					t.Errorf("rule %s%s: unknown metric %q (a recorded name must be recorded before it is used)", r.Record, r.Alert, n)
				}
			}
		}
	}
	if len(alerts) == 0 {
		t.Fatal("no alerts found")
	}
	// Every alert has at least one promtool test that fires and one that stays quiet.
	var tf struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	decodeLoose(t, rulesTest, &tf)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, c := range tf.Tests {
		for _, a := range c.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for a := range alerts {
		if !fires[a] || !quiet[a] {
			t.Errorf("alert %s: %s needs a case where it fires and one where it does not", a, rulesTest)
		}
	}
}

// TestRulesTestEvalOrder checks alerts_test.yml's group_eval_order.
// promtool evaluates the groups it does not list in random order (it sorts
// them unstably, from a map), so a group listed late or not at all may read
// another group's result one evaluation old in some runs and not in others:
// a test that passes by chance. Every group of the rule files must be
// listed, once, after every group whose recorded series it reads.
func TestRulesTestEvalOrder(t *testing.T) {
	var tf struct {
		RuleFiles      []string `yaml:"rule_files"`
		GroupEvalOrder []string `yaml:"group_eval_order"`
	}
	decodeLoose(t, rulesTest, &tf)
	var groups []string
	recordedBy := map[string]string{} // recorded series -> its group
	reads := map[string][]string{}    // group -> the metric names it reads
	for _, f := range tf.RuleFiles {
		var rf ruleFile
		decodeLoose(t, filepath.Join(filepath.Dir(rulesTest), f), &rf)
		for _, g := range rf.Groups {
			groups = append(groups, g.Name)
			for _, r := range g.Rules {
				if r.Record != "" {
					recordedBy[r.Record] = g.Name
				}
				reads[g.Name] = append(reads[g.Name], MetricNames(r.Expr)...)
			}
		}
	}
	if len(groups) < 2 {
		t.Fatalf("%s: %d rule groups in %v; the check needs the shipped files", rulesTest, len(groups), tf.RuleFiles)
	}
	position := map[string]int{}
	for i, g := range tf.GroupEvalOrder {
		if _, dup := position[g]; dup {
			t.Errorf("%s: group_eval_order lists %s twice", rulesTest, g)
		}
		position[g] = i
	}
	for _, g := range groups {
		if _, ok := position[g]; !ok {
			t.Errorf("%s: group_eval_order leaves out group %s: promtool evaluates it in random order", rulesTest, g)
		}
	}
	for _, g := range tf.GroupEvalOrder {
		if !slices.Contains(groups, g) {
			t.Errorf("%s: group_eval_order lists %s, which no rule file defines", rulesTest, g)
		}
	}
	for _, g := range groups {
		for _, n := range reads[g] {
			if by, ok := recordedBy[n]; ok && by != g && position[by] > position[g] {
				t.Errorf("%s: group %s reads %s, recorded by %s, which group_eval_order puts after it", rulesTest, g, n, by)
			}
		}
	}
}

func TestExamplesYAML(t *testing.T) {
	var n int
	err := filepath.WalkDir(examplesDir, func(path string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() && e.Name() == "templates" && filepath.Base(filepath.Dir(filepath.Dir(path))) == "helm" {
			return filepath.SkipDir // Helm templates are YAML once rendered: test/helm renders them
		}
		if err != nil || e.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yml" && ext != ".yaml" {
			return nil
		}
		n++
		t.Run(strings.TrimPrefix(path, examplesDir+"/"), func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			dec := yaml.NewDecoder(f)
			for docs := 0; ; docs++ {
				var doc any
				err := dec.Decode(&doc)
				if errors.Is(err, io.EOF) {
					if docs == 0 {
						t.Error("no YAML document")
					}
					return
				}
				if err != nil {
					t.Fatalf("document %d: %v", docs+1, err)
				}
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no YAML files under examples/")
	}
}

// TestKubernetesInSync checks that the PrometheusRule and the dashboards
// ConfigMap in examples/kubernetes carry exactly alerts.yml and the
// dashboards; -update regenerates them.
func TestKubernetesInSync(t *testing.T) {
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	dashes := map[string]string{}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		dashes[n] = string(data)
	}
	if *update {
		writeFile(t, k8sRules, prometheusRule(rules))
		writeFile(t, k8sDashes, dashboardsConfigMap(names, dashes))
	}

	var want, got struct {
		Groups any `yaml:"groups"`
		Spec   struct {
			Groups any `yaml:"groups"`
		} `yaml:"spec"`
	}
	decodeLoose(t, rulesFile, &want)
	decodeLoose(t, k8sRules, &got)
	if want.Groups == nil || !reflect.DeepEqual(want.Groups, got.Spec.Groups) {
		t.Errorf("%s differs from %s: run go test ./dashboards -run TestKubernetesInSync -update", k8sRules, rulesFile)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	decodeLoose(t, k8sDashes, &cm)
	if !reflect.DeepEqual(cm.Data, dashes) {
		t.Errorf("%s differs from dashboards/*.json: run go test ./dashboards -run TestKubernetesInSync -update", k8sDashes)
	}
}

const generated = "# Generated by `go test ./dashboards -run TestKubernetesInSync -update` from %s: do not edit.\n"

func prometheusRule(rules []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, generated, "examples/prometheus/alerts.yml")
	b.WriteString(`apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: timpush-exporter
  # kube-prometheus-stack selects rules by its release label by default:
  # add release: <your release> here if yours does.
spec:
`)
	inBody := false
	for _, line := range strings.SplitAfter(string(rules), "\n") {
		if !inBody && !strings.HasPrefix(line, "groups:") {
			continue // the file's header comment is about promtool
		}
		inBody = true
		if strings.TrimSpace(line) == "" {
			b.WriteString(line)
			continue
		}
		b.WriteString("  " + line)
	}
	return b.Bytes()
}

func dashboardsConfigMap(names []string, dashes map[string]string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, generated, "dashboards/*.json")
	b.WriteString(`apiVersion: v1
kind: ConfigMap
metadata:
  name: timpush-dashboards
  labels:
    # Picked up by Grafana's dashboard sidecar (kube-prometheus-stack's default label).
    grafana_dashboard: "1"
data:
`)
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %s: |\n", n)
		for _, line := range strings.SplitAfter(dashes[n], "\n") {
			if line != "" {
				b.WriteString("    " + line)
			}
		}
	}
	return b.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	decode(t, path, v, true)
}

func decodeLoose(t *testing.T, path string, v any) {
	t.Helper()
	decode(t, path, v, false)
}

func decode(t *testing.T, path string, v any, strict bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(strict)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestKubernetesConfig loads the Kubernetes example's configuration the way
// the pod would: every *_file it names is a key of the Secret, mounted at
// /etc/timpush/secrets/.
func TestKubernetesConfig(t *testing.T) {
	data, err := os.ReadFile(k8sConfig)
	if err != nil {
		t.Fatal(err)
	}
	var secret struct {
		StringData map[string]string `yaml:"stringData"`
	}
	decodeLoose(t, k8sSecret, &secret)
	dir := t.TempDir()
	refs := regexp.MustCompile(`(?m)^\s*\w+_file: /etc/timpush/secrets/(\S+)`).FindAllStringSubmatch(string(data), -1)
	if len(refs) == 0 {
		t.Fatal("no *_file under /etc/timpush/secrets/")
	}
	for _, m := range refs {
		v, ok := secret.StringData[m[1]]
		if !ok {
			t.Errorf("%s names %s, which %s does not hold", k8sConfig, m[1], k8sSecret)
		}
		writeFile(t, filepath.Join(dir, m[1]), []byte(v))
		if err := os.Chmod(filepath.Join(dir, m[1]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text := strings.ReplaceAll(string(data), "/etc/timpush/secrets/", dir+"/")
	cfg, err := config.Decode(strings.NewReader(text), filepath.Dir(k8sConfig))
	if err != nil {
		t.Fatalf("%s: %v", k8sConfig, err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("%s: warnings %q", k8sConfig, cfg.Warnings)
	}
}

// reasonMatcherRE finds matchers on the reason label: reason="x", reason=~"x|y", reason!="x".
var reasonMatcherRE = regexp.MustCompile(`\breason\s*(?:=~|!~|!=|=)\s*"([^"]*)"`)

// dropReasons are the reasons of timpush_exporter_pushids_dropped_total
// (collector: every dropLocked call), a vocabulary of their own.
var dropReasons = []string{"queue_full", "expired", "rejected", "errors", "app_removed"}

// TestReasonValues checks that every reason a dashboard or rule selects is a
// word of the exporter's vocabulary: a typo would select nothing, silently.
// Failure reasons come from the taxonomy, drop reasons from the collector.
func TestReasonValues(t *testing.T) {
	known, dropped := map[string]bool{}, map[string]bool{}
	for _, r := range taxonomy.Reasons() {
		known[r] = true
	}
	for _, r := range dropReasons {
		dropped[r] = true
	}
	var exprs []string
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		exprs = append(exprs, q.Expr)
	}
	var rf ruleFile
	decodeLoose(t, rulesFile, &rf)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	for _, e := range exprs {
		for _, sel := range Selectors(e) {
			vocabulary, words := known, taxonomy.Reasons()
			if strings.Contains(sel, "pushids_dropped") {
				vocabulary, words = dropped, dropReasons
			}
			for _, m := range reasonMatcherRE.FindAllStringSubmatch(sel, -1) {
				for _, v := range strings.Split(m[1], "|") {
					if !vocabulary[v] {
						t.Errorf("%q: reason %q is not one of %q", e, v, words)
					}
				}
			}
		}
	}
}

// link is a dashboard or data link found in a dashboard's JSON.
type link struct {
	where string // "dashboard links" or the panel's title
	url   string
	exprs []string // the queries of the panel it belongs to
}

// collectLinks returns every object with a "url" inside a "links" array
// under v (field config defaults and overrides included).
func collectLinks(v any, inLinks bool, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		if u, ok := x["url"].(string); ok && inLinks {
			*out = append(*out, u)
		}
		for k, c := range x {
			if k == "panels" {
				continue // nested panels are visited on their own
			}
			collectLinks(c, k == "links", out)
		}
	case []any:
		for _, c := range x {
			collectLinks(c, inLinks, out)
		}
	}
}

func dashboardLinks(t *testing.T, raw map[string]any) []link {
	t.Helper()
	var out []link
	if ls, ok := raw["links"].([]any); ok {
		for _, l := range ls {
			if m, ok := l.(map[string]any); ok {
				u, _ := m["url"].(string)
				out = append(out, link{where: "dashboard links", url: u})
			}
		}
	}
	var walk func([]any)
	walk = func(ps []any) {
		for _, p := range ps {
			m, ok := p.(map[string]any)
			if !ok {
				continue
			}
			title, _ := m["title"].(string)
			var exprs []string
			if ts, ok := m["targets"].([]any); ok {
				for _, tg := range ts {
					if e, ok := tg.(map[string]any)["expr"].(string); ok {
						exprs = append(exprs, e)
					}
				}
			}
			var urls []string
			for k, v := range m {
				if k != "panels" {
					collectLinks(v, k == "links", &urls)
				}
			}
			for _, u := range urls {
				out = append(out, link{where: "panel " + title, url: u, exprs: exprs})
			}
			if nested, ok := m["panels"].([]any); ok {
				walk(nested)
			}
		}
	}
	ps, _ := raw["panels"].([]any)
	walk(ps)
	return out
}

var (
	dataFieldRE = regexp.MustCompile(`\$\{__data\.fields\.([a-zA-Z_][a-zA-Z0-9_]*)\}`)
	varParamRE  = regexp.MustCompile(`[?&]var-([a-zA-Z0-9_]+)=`)
	viewPanelRE = regexp.MustCompile(`[?&]viewPanel=(\d+)`)
	dashPathRE  = regexp.MustCompile(`^/d/([^/?]+)`)
)

// TestDashboardLinks checks the links: /trace links go through the
// exporter_url variable (so they work in any deployment), drill-downs name a
// dashboard, panel and variables that exist, and data links read only
// fields the panel's query has.
func TestDashboardLinks(t *testing.T) {
	ds, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]*Dashboard{}
	for _, d := range ds {
		uids[d.UID] = d
	}
	var traceLinks int
	for name, d := range ds {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		vars := map[string]Variable{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		for _, l := range dashboardLinks(t, raw) {
			where := fmt.Sprintf("%s: %s: link %q", name, l.where, l.url)
			if strings.Contains(l.url, "/trace") {
				traceLinks++
				checkTraceLink(t, where, l.url, vars)
			}
			if m := dashPathRE.FindStringSubmatch(l.url); m != nil {
				checkDrilldown(t, where, l.url, uids[m[1]])
			}
			for _, m := range dataFieldRE.FindAllStringSubmatch(l.url, -1) {
				if !usesLabel(l.exprs, m[1]) {
					t.Errorf("%s: ${__data.fields.%s}: the panel's queries have no %s label", where, m[1], m[1])
				}
			}
		}
	}
	if traceLinks == 0 {
		t.Error("no dashboard links to the exporter's /trace page")
	}
}

func checkTraceLink(t *testing.T, where, u string, vars map[string]Variable) {
	t.Helper()
	if !strings.HasPrefix(u, "${exporter_url}/trace") {
		t.Errorf("%s: want ${exporter_url}/trace…, so that it works wherever the exporter is", where)
	}
	v, ok := vars["exporter_url"]
	if !ok || v.Type != "textbox" {
		t.Errorf("%s: the dashboard needs a textbox variable exporter_url", where)
		return
	}
	var def string
	if err := json.Unmarshal(v.Query, &def); err != nil || !strings.HasPrefix(def, "http") || strings.HasSuffix(def, "/") {
		t.Errorf("%s: exporter_url default %s: want an http(s) URL without a trailing slash", where, v.Query)
	}
}

func checkDrilldown(t *testing.T, where, u string, target *Dashboard) {
	t.Helper()
	if target == nil {
		t.Errorf("%s: no bundled dashboard has that uid", where)
		return
	}
	vars := map[string]bool{}
	for _, v := range target.Templating.List {
		vars[v.Name] = true
	}
	for _, m := range varParamRE.FindAllStringSubmatch(u, -1) {
		if !vars[m[1]] {
			t.Errorf("%s: %s has no variable %s", where, target.UID, m[1])
		}
	}
	for _, m := range viewPanelRE.FindAllStringSubmatch(u, -1) {
		found := false
		for _, p := range target.AllPanels() {
			if fmt.Sprint(p.ID) == m[1] && p.Type != "row" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %s has no panel %s", where, target.UID, m[1])
		}
	}
}

// usesLabel reports whether a label name appears in one of the expressions
// (in a by clause or a matcher): then the query's table has that field.
func usesLabel(exprs []string, label string) bool {
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(label) + `\b`)
	for _, e := range exprs {
		if re.MatchString(e) {
			return true
		}
	}
	return false
}

// TestComposeExemplarLink checks the docker-compose Grafana data source:
// exemplars with a push_id label link to the exporter's /trace page, and every
// $ of Grafana's link variables is doubled, as provisioning files need (a
// single $ is read as an environment variable and replaced by nothing).
func TestComposeExemplarLink(t *testing.T) {
	var f struct {
		Datasources []struct {
			Type     string `yaml:"type"`
			JSONData struct {
				Destinations []struct {
					Name string `yaml:"name"`
					URL  string `yaml:"url"`
				} `yaml:"exemplarTraceIdDestinations"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	decodeLoose(t, composeDS, &f)
	var found bool
	for _, ds := range f.Datasources {
		for _, d := range ds.JSONData.Destinations {
			if d.Name != "push_id" {
				continue
			}
			found = true
			if strings.Count(d.URL, "$") != 2*strings.Count(d.URL, "$$") {
				t.Errorf("url %q: write every $ as $$ in a provisioning file", d.URL)
			}
			u := strings.ReplaceAll(d.URL, "$$", "$")
			for _, want := range []string{"/trace?", "push_id=${__value.raw}", "app=${__data.fields.app}"} {
				if !strings.Contains(u, want) {
					t.Errorf("url %q: want %q in it", d.URL, want)
				}
			}
		}
	}
	if !found {
		t.Errorf("%s: no exemplarTraceIdDestinations entry named push_id", composeDS)
	}
}

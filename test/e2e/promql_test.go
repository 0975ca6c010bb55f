// Package e2e runs timpush_exporter in demo mode under a real Prometheus
// server and proves that every dashboard query and every rule works on what
// the exporter really exports.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/timpush/timpush_exporter/dashboards"
	"github.com/timpush/timpush_exporter/internal/exportertest"
)

const (
	rulesFile = "../../examples/prometheus/alerts.yml"
	// composeDS holds the exemplar link that Grafana offers on a push_id.
	composeDS = "../../examples/docker-compose/grafana/provisioning/datasources/prometheus.yml"
	// composeExporter is the exporter's address in that link (the port
	// compose publishes); the test puts its own exporter in its place.
	composeExporter = "http://localhost:9846"
)

// Grafana's variables, replaced the way Grafana would with app "demo" (the
// demo mode's app) and all platforms selected. The ranges are long enough to
// hold several scrapes at the 2 s scrape interval used here.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__interval", "10s",
	"$__range", "10m",
	"${app}", "demo", "$app", "demo",
	"${platform}", ".*", "$platform", ".*",
)

// mayBeEmpty are the metrics a short demo run may legitimately not expose:
// a query or rule that uses one of them may return no data while that
// metric has no series at all, and the metric may be missing from /metrics
// (a labelled counter without children is not exposed). Everything else
// must be there. Keep this list short and give the reason.
var mayBeEmpty = map[string]string{
	"timpush_exporter_pushids_dropped_total":                        "no PushID is given up in a healthy demo run (no full pending set, nothing 7 days old)",
	"timpush_exporter_webhook_requests_total":                       "demo mode runs no webhook listener",
	"timpush_exporter_api_errors_total":                             "the demo's simulator injects no faults and is called within its limit",
	"timpush_exporter_config_last_reload_successful":                "demo mode has no configuration file to reload",
	"timpush_exporter_config_last_reload_success_timestamp_seconds": "demo mode has no configuration file to reload",
	"push_stage_unreported_total": "counted when a push is finished after its last requery; the demo's last requery_after is 2m, " +
		"so the first unreported stages appear about 3 minutes after start, later than this test waits",
	"push_callback_events_total":   "counted only from Tencent's push callbacks (Push.OfflinePush, Push.AllMemberPush) on /webhook/tencent: a run that receives none has none",
	"push_callback_failures_total": "counted only from failed events of Tencent's push callbacks: a run that receives none has none",
	// Recorded by alerts.yml from the two above; the callback rules after
	// them read nothing else.
	"app_platform_push_stage:push_callback_events_total:increase3m":   "recorded from push_callback_events_total",
	"app_platform_push_stage:push_callback_failures_total:increase3m": "recorded from push_callback_failures_total and the events",
}

// rareInDemo are label matchers of rules that select a rare value: a short
// demo run may have no series with it (the demo's only auth_or_certificate
// failure is Huawei's 80300002, one in eight of Huawei's channel errors;
// a 10-minute demo run had none). An alert selector with
// such a matcher and no data passes when the same selector without the
// matcher has data, so the metric and its other labels are proven real; the
// value itself is checked against the exporter's vocabulary by
// dashboards.TestReasonValues.
var rareInDemo = map[string]string{
	`reason="auth_or_certificate"`: "the demo's simulator rarely fails a push for its credentials",
}

func TestMain(m *testing.M) { exportertest.Main(m) }

// TestPromQL starts the exporter in --demo mode and Prometheus (with the
// example rules) on loopback, waits until push outcomes flow, then evaluates
// every dashboard query and every rule through Prometheus's HTTP API.
//
// A query passes when it evaluates without error and returns at least one
// sample. An alert expression is normally empty on healthy demo data (that
// is what an alert that does not fire looks like), so an empty alert passes
// when each vector selector in it returns data on its own: the alert is then
// evaluated on real series and is quiet because its condition is false, not
// because it names a metric or label that does not exist. Every rule must
// also be reported healthy by Prometheus's rule manager. Finally the
// exemplar link of the docker-compose Grafana data source is filled with a
// stored push_id exemplar and its series' app, and followed: the exporter's
// /trace page must answer with that push.
func TestPromQL(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	promBin := prometheusBinary(t)
	dir := t.TempDir()
	bin := exportertest.Binary(t)

	// The run, from start to verdict, is bounded so the test stays under
	// three minutes with a warm build cache.
	ctx, cancel := context.WithTimeout(context.Background(), 140*time.Second)
	defer cancel()
	exporter := exportertest.Start(t, bin, "--demo",
		"--web.listen-address=127.0.0.1:0",
		"--storage.path="+filepath.Join(dir, "data"),
		"--log.level=info")
	exporterAddr := exporter.Addr("metrics", 30*time.Second)
	exporter.WaitHTTP("http://"+exporterAddr+"/metrics", 30*time.Second)

	rules := rulesAtEvaluationInterval(t, dir)
	promConfig := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promConfig, fmt.Sprintf(`global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files: [%q]
scrape_configs:
  - job_name: timpush_exporter
    static_configs:
      - targets: [%q]
`, rules, exporterAddr))
	prometheus := exportertest.Start(t, promBin,
		"--config.file="+promConfig,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address=127.0.0.1:0",
		"--enable-feature=exemplar-storage")
	prom := &promAPI{base: "http://" + prometheus.Addr("", 30*time.Second), explained: map[string]bool{}}
	prometheus.WaitFor("Server is ready to receive web requests", 30*time.Second)

	// Outcomes appear after the demo's query delay; rates need two scrapes.
	if err := poll(ctx, 2*time.Second, func() error {
		res, err := prom.query(ctx, "rate(push_stage_total[1m]) > 0")
		if err == nil && len(res) == 0 {
			err = fmt.Errorf("no data yet")
		}
		return err
	}); err != nil {
		t.Fatalf("push_stage_total never increased in Prometheus: %v", err)
	}

	checks := allChecks(t, exporterAddr, prom)
	// Some series (device and click stages, latency of late stages) appear
	// only some seconds after the first outcomes: retry the failing checks
	// until they pass or the time is up, then report what still fails.
	failures := map[string]error{}
	for _, c := range checks {
		failures[c.name] = fmt.Errorf("not run")
	}
	start := time.Now()
	_ = poll(ctx, 3*time.Second, func() error {
		for _, c := range checks {
			if _, failing := failures[c.name]; !failing {
				continue
			}
			if err := c.run(ctx); err != nil {
				failures[c.name] = err
			} else {
				delete(failures, c.name)
				if d := time.Since(start); d > 10*time.Second {
					t.Logf("%s: passed after %s", c.name, d.Round(time.Second))
				}
			}
		}
		if len(failures) > 0 {
			return fmt.Errorf("%d checks failing", len(failures))
		}
		return nil
	})
	names := make([]string, 0, len(failures))
	for n := range failures {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if late := lateReason(checks, n, failures[n]); late != "" {
			t.Logf("%s: accepted without data: %s", n, late)
			delete(failures, n)
			continue
		}
		t.Errorf("%s: %v", n, failures[n])
	}
	t.Logf("%d checks, %d failed", len(checks), len(failures))
	for n := range prom.explained {
		if reason, ok := rareInDemo[n]; ok {
			t.Logf("empty selector accepted: no series with %s yet (%s)", n, reason)
			continue
		}
		t.Logf("empty results accepted: %s has no series (%s)", n, mayBeEmpty[n])
	}
}

// prometheusBinary is the prometheus on PATH, which must be a 3.x release:
// the one .ci/run installs (.ci/tools), the version compose and the
// Kubernetes notes pin.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	const install = "bash .ci/run installs the pinned Prometheus 3 (or: PATH=$(bash .ci/tools prometheus):$PATH)"
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("prometheus is not on PATH; %s", install)
		}
		t.Skipf("prometheus is not on PATH; %s", install)
	}
	v, err := prometheusVersion(bin)
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	if !strings.HasPrefix(v, "3.") {
		t.Fatalf("%s is Prometheus %s; this test needs 3.x: %s", bin, v, install)
	}
	t.Logf("Prometheus %s (%s)", v, bin)
	return bin
}

// prometheusVersion asks bin for its version; a go-installed build that was
// not stamped with one is read from the module version the go command
// recorded (v0.316.0 is Prometheus 3.16.0).
func prometheusVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("--version: %v: %s", err, out)
	}
	if m := regexp.MustCompile(`(?m)^prometheus, version (\d\S*)`).FindSubmatch(out); m != nil {
		return string(m[1]), nil
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		return "", fmt.Errorf("no version in --version (%q), and go version -m: %v", out, err)
	}
	m := regexp.MustCompile(`(?m)^\s+mod\s+github\.com/prometheus/prometheus\s+v0\.(\d)(\d\d)\.(\d+)`).FindSubmatch(info)
	if m == nil {
		return "", fmt.Errorf("no version in --version (%q) nor in its build info", out)
	}
	minor := strings.TrimLeft(string(m[2]), "0")
	if minor == "" {
		minor = "0"
	}
	return fmt.Sprintf("%s.%s.%s", m[1], minor, m[3]), nil
}

type check struct {
	name string
	expr string // the query of a dashboard check
	run  func(ctx context.Context) error
}

// lateInDemo are label matchers of series that a short demo run may not have
// produced yet when the time is up. A dashboard query that selects one of
// them and still has no data then (but evaluates without error) is logged,
// not failed.
var lateInDemo = map[string]string{
	`stage="click"`: "clicks come 10-120 s after a push and are seen only at requeries (30 s, 2 min), " +
		"which the demo's deliberately over-full query budget delays",
}

// errNoData is wrapped by the error of a query that evaluated to nothing.
var errNoData = errors.New("no data")

func lateReason(checks []check, name string, err error) string {
	if !errors.Is(err, errNoData) {
		return ""
	}
	for _, c := range checks {
		if c.name != name {
			continue
		}
		for m, reason := range lateInDemo {
			if strings.Contains(c.expr, m) {
				return reason
			}
		}
	}
	return ""
}

func allChecks(t *testing.T, exporterAddr string, prom *promAPI) []check {
	t.Helper()
	queries, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	var checks []check
	used := map[string][]string{} // metric -> dashboard queries using it
	for _, q := range queries {
		expr := grafanaVars.Replace(q.Expr)
		checks = append(checks, check{"dashboard " + q.String(), q.Expr, func(ctx context.Context) error {
			return prom.expectData(ctx, expr)
		}})
		for _, n := range dashboards.MetricNames(q.Expr) {
			used[n] = append(used[n], q.String())
		}
	}
	checks = append(checks, check{"dashboard metrics in /metrics", "", func(ctx context.Context) error {
		return metricsExposed(ctx, exporterAddr, used)
	}})
	checks = append(checks, check{"exemplars of push_stage_failures_total", "", func(ctx context.Context) error {
		_, _, err := prom.exemplar(ctx, "push_stage_failures_total", "push_id")
		return err
	}})
	link := exemplarLink(t)
	checks = append(checks, check{"exemplar link opens /trace for the PushID", "", func(ctx context.Context) error {
		return followExemplarLink(ctx, prom, link, exporterAddr)
	}})
	rules := loadRules(t)
	recorded := map[string]string{} // recorded name -> its expression
	for _, r := range rules {
		if r.Record != "" {
			recorded[r.Record] = r.Expr
		}
	}
	for _, r := range rules {
		checks = append(checks, ruleChecks(r, recorded, prom)...)
	}
	return checks
}

type rule struct {
	Record string `yaml:"record"`
	Alert  string `yaml:"alert"`
	Expr   string `yaml:"expr"`
}

// rulesAtEvaluationInterval writes the example rules to dir with every
// group's own interval removed, so each group is evaluated at this test's
// global 2 s. The baseline group runs every 5 minutes in production; the
// test's whole run is shorter than that, and a group never evaluated would
// leave every rule that reads it without data.
func rulesAtEvaluationInterval(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Groups []map[string]any `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	for _, g := range rf.Groups {
		delete(g, "interval")
	}
	out, err := yaml.Marshal(rf)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "alerts.yml")
	writeFile(t, path, string(out))
	return path
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var out []rule
	for _, g := range rf.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no rules", rulesFile)
	}
	return out
}

func ruleChecks(r rule, recorded map[string]string, prom *promAPI) []check {
	if r.Record != "" {
		return []check{
			{"recording rule " + r.Record, "", func(ctx context.Context) error {
				return prom.expectData(ctx, r.Expr)
			}},
			{"recorded series " + r.Record, "", func(ctx context.Context) error {
				if err := prom.ruleHealthy(ctx, r.Record); err != nil {
					return err
				}
				return prom.expectData(ctx, r.Record, r.Expr)
			}},
		}
	}
	return []check{{"alert " + r.Alert, "", func(ctx context.Context) error {
		if err := prom.ruleHealthy(ctx, r.Alert); err != nil {
			return err
		}
		res, err := prom.query(ctx, r.Expr)
		if err != nil || len(res) > 0 {
			return err
		}
		// Quiet, as it should be on demo data: each selector must have data.
		for _, sel := range dashboards.Selectors(r.Expr) {
			var sources []string // for a recorded series, what it is made of
			for _, n := range dashboards.MetricNames(sel) {
				if e, ok := recorded[n]; ok {
					sources = append(sources, e)
				}
			}
			err := prom.expectData(ctx, sel, sources...)
			if errors.Is(err, errNoData) {
				err = rareSelectorData(ctx, prom, sel, sources)
			}
			if err != nil {
				return fmt.Errorf("alert returns nothing and its selector %s has no data: %w", sel, err)
			}
		}
		return nil
	}}}
}

// rareSelectorData accepts an empty selector that has a matcher of
// rareInDemo when the selector without it has data.
func rareSelectorData(ctx context.Context, prom *promAPI, sel string, sources []string) error {
	for m := range rareInDemo {
		if !strings.Contains(sel, m) {
			continue
		}
		broader := strings.NewReplacer(m+", ", "", ", "+m, "", m, "").Replace(sel)
		if err := prom.expectData(ctx, broader, sources...); err != nil {
			return fmt.Errorf("without %s: %w", m, err)
		}
		prom.explained[m] = true
		return nil
	}
	return fmt.Errorf("%w for %s", errNoData, sel)
}

// exemplarLink reads the URL of the exemplar link on push_id from the
// docker-compose data source (where every $ is written $$).
func exemplarLink(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(composeDS)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Datasources []struct {
			JSONData struct {
				Destinations []struct {
					Name string `yaml:"name"`
					URL  string `yaml:"url"`
				} `yaml:"exemplarTraceIdDestinations"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", composeDS, err)
	}
	for _, ds := range f.Datasources {
		for _, d := range ds.JSONData.Destinations {
			if d.Name == "push_id" {
				return strings.ReplaceAll(d.URL, "$$", "$")
			}
		}
	}
	t.Fatalf("%s: no exemplar link on push_id", composeDS)
	return ""
}

// followExemplarLink does what Grafana does when a reader follows the link
// of a push_id exemplar: it fills the link with the exemplar's push_id and
// its series' app, and opens it (on this test's exporter). The exporter must
// answer with that push's trace.
func followExemplarLink(ctx context.Context, prom *promAPI, link, exporterAddr string) error {
	series, ex, err := prom.exemplar(ctx, "push_stage_failures_total", "push_id")
	if err != nil {
		return err
	}
	u := strings.NewReplacer(
		"${__value.raw}", url.QueryEscape(ex["push_id"]),
		"${__data.fields.app}", url.QueryEscape(series["app"]),
		composeExporter, "http://"+exporterAddr,
	).Replace(link)
	if strings.Contains(u, "${") || !strings.HasPrefix(u, "http://"+exporterAddr+"/trace?") {
		return fmt.Errorf("link %q filled as %q: unknown variable or not the exporter's /trace", link, u)
	}
	body, err := get(ctx, u, "application/json")
	if err != nil {
		return fmt.Errorf("%s: %w: %s", u, err, body)
	}
	var tr struct {
		App       string            `json:"app"`
		PushID    string            `json:"push_id"`
		Instances []json.RawMessage `json:"instances"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	if tr.PushID != ex["push_id"] || tr.App != series["app"] || len(tr.Instances) == 0 {
		return fmt.Errorf("%s: got app %q, push_id %q with %d instances, want app %q, push_id %q with its instances",
			u, tr.App, tr.PushID, len(tr.Instances), series["app"], ex["push_id"])
	}
	return nil
}

// expectData fails on a query error, or on an empty result unless that is
// explained by a metric of mayBeEmpty that has no series at all. The metrics
// looked at are those of expr and of the optional source expressions (for a
// recorded series: the rule's expression).
func (p *promAPI) expectData(ctx context.Context, expr string, sources ...string) error {
	res, err := p.query(ctx, expr)
	if err != nil || len(res) > 0 {
		return err
	}
	for _, e := range append([]string{expr}, sources...) {
		for _, n := range dashboards.MetricNames(e) {
			if _, ok := mayBeEmpty[n]; !ok {
				continue
			}
			if r, err := p.query(ctx, n); err == nil && len(r) == 0 {
				p.explained[n] = true
				return nil // explained: an optional metric has no series
			}
		}
	}
	return fmt.Errorf("%w for %s", errNoData, oneLine(expr))
}

// metricsExposed checks that every metric a dashboard uses is on the
// exporter's /metrics page (a histogram's _bucket/_sum/_count count as its name).
func metricsExposed(ctx context.Context, addr string, used map[string][]string) error {
	body, err := get(ctx, "http://"+addr+"/metrics", "text/plain")
	if err != nil {
		return err
	}
	exposed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 4 && f[0] == "#" && f[1] == "TYPE" {
			exposed[f[2]] = true
			if f[3] == "histogram" || f[3] == "summary" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					exposed[f[2]+s] = true
				}
			}
		}
	}
	var missing []string
	for n, qs := range used {
		if _, ok := mayBeEmpty[n]; !exposed[n] && !ok {
			missing = append(missing, fmt.Sprintf("%s (used by %s)", n, strings.Join(qs, "; ")))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return fmt.Errorf("not on /metrics: %s", strings.Join(missing, ", "))
	}
	return nil
}

// promAPI is a minimal client of Prometheus's HTTP API.
type promAPI struct {
	base      string
	explained map[string]bool // optional metrics (or rare matchers) that explained an empty result
}

type apiResponse struct {
	Status    string          `json:"status"`
	Error     string          `json:"error"`
	ErrorType string          `json:"errorType"`
	Data      json.RawMessage `json:"data"`
}

func (p *promAPI) call(ctx context.Context, path string, params url.Values, v any) error {
	body, err := get(ctx, p.base+path+"?"+params.Encode(), "application/json")
	var r apiResponse
	if jerr := json.Unmarshal(body, &r); jerr != nil {
		if err != nil {
			return err
		}
		return fmt.Errorf("%s: %w", path, jerr)
	}
	if r.Status != "success" {
		return fmt.Errorf("%s: %s: %s", path, r.ErrorType, r.Error)
	}
	return json.Unmarshal(r.Data, v)
}

// query runs an instant query and returns its result samples.
func (p *promAPI) query(ctx context.Context, expr string) ([]json.RawMessage, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.call(ctx, "/api/v1/query", url.Values{"query": {expr}}, &d); err != nil {
		return nil, fmt.Errorf("query %s: %w", oneLine(expr), err)
	}
	if d.ResultType != "vector" && d.ResultType != "matrix" {
		return []json.RawMessage{d.Result}, nil // scalar or string: always a value
	}
	var res []json.RawMessage
	if err := json.Unmarshal(d.Result, &res); err != nil {
		return nil, err
	}
	return res, nil
}

// ruleHealthy checks that Prometheus evaluated the named rule without error.
func (p *promAPI) ruleHealthy(ctx context.Context, name string) error {
	var d struct {
		Groups []struct {
			Rules []struct {
				Name           string    `json:"name"`
				Health         string    `json:"health"`
				LastError      string    `json:"lastError"`
				LastEvaluation time.Time `json:"lastEvaluation"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.call(ctx, "/api/v1/rules", nil, &d); err != nil {
		return err
	}
	for _, g := range d.Groups {
		for _, r := range g.Rules {
			if r.Name != name {
				continue
			}
			if r.Health != "ok" || r.LastEvaluation.Unix() <= 0 {
				return fmt.Errorf("rule health %q (last evaluation %s): %s", r.Health, r.LastEvaluation, r.LastError)
			}
			return nil
		}
	}
	return fmt.Errorf("rule %s not loaded by Prometheus", name)
}

// exemplar returns the labels of a series and of the latest of its
// exemplars that has the given label, from those Prometheus stored for the
// query over the last 10 minutes.
func (p *promAPI) exemplar(ctx context.Context, query, label string) (series, exemplar map[string]string, err error) {
	now := time.Now()
	var d []struct {
		SeriesLabels map[string]string `json:"seriesLabels"`
		Exemplars    []struct {
			Labels map[string]string `json:"labels"`
		} `json:"exemplars"`
	}
	params := url.Values{"query": {query},
		"start": {fmt.Sprint(now.Add(-10 * time.Minute).Unix())}, "end": {fmt.Sprint(now.Unix())}}
	if err := p.call(ctx, "/api/v1/query_exemplars", params, &d); err != nil {
		return nil, nil, err
	}
	for _, s := range d {
		for i := len(s.Exemplars) - 1; i >= 0; i-- {
			if e := s.Exemplars[i]; e.Labels[label] != "" {
				return s.SeriesLabels, e.Labels, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("no exemplar with label %s (is /metrics served as OpenMetrics?)", label)
}

func get(ctx context.Context, u, accept string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode/100 != 2 {
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return body, err
}

// poll calls f every interval until it returns nil or ctx ends, and returns
// f's last error. Polling is for the external processes only.
func poll(ctx context.Context, interval time.Duration, f func() error) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-ticker.C:
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

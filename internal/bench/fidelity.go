package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/timpush/timpush_exporter/internal/fidelity"
)

// Alerting fidelity (issue 11): the real pipeline against the simulator in
// simulated time, 1 call/s, the simulator's vendor mix, 20 PushIDs/s by
// day and 2/s at night, the default schedule and sample_ratio: auto; the
// shipped rules evaluated by Prometheus's own engine every 30 s on scrapes
// every 15 s (internal/fidelity). For each step scenario: the time from the
// step to the first firing for Huawei, per alert; for every scenario, the
// false pages; and the share of trace calls that brought a new stage
// outcome, with the scheduler of earlier versions ("before", clicks owed)
// beside it.

// fidelityRules are the rule files evaluated, as a user loads them.
var fidelityRules = []string{"examples/prometheus/alerts.yml", "examples/prometheus/thresholds.yml"}

type fidelityCase struct {
	sc     fidelity.Scenario
	alerts []string      // the alerts that should page, for the target
	within time.Duration // target: first firing within this of the step
}

func fidelityCases(quick bool) []fidelityCase {
	base := fidelity.Base{Channel: 0.08, Device: 0.15}
	warm, after := 3*time.Hour, time.Hour
	days := 30
	if quick {
		warm, after = 90*time.Minute, 30*time.Minute
	}
	step := func(stage string, to float64) *fidelity.Step {
		return &fidelity.Step{At: warm, Platform: fidelity.Huawei, Stage: stage, To: to}
	}
	traceAlerts := map[string][]string{
		"channel": {"TimpushVendorChannelFailureRatioHigh"},
		"device":  {"TimpushDeviceDeliveryFailureRatioHigh"},
	}
	var cases []fidelityCase
	for _, s := range []struct {
		stage  string
		to     float64
		within time.Duration
	}{{"channel", 0.40, 10 * time.Minute}, {"device", 0.45, 15 * time.Minute}} {
		name := fmt.Sprintf("Huawei %s %g %% → %g %%", s.stage, 100*map[string]float64{"channel": base.Channel, "device": base.Device}[s.stage], 100*s.to)
		cases = append(cases,
			fidelityCase{sc: fidelity.Scenario{Name: name + ", traces only", Duration: warm + after, Step: step(s.stage, s.to), Base: base, StartHour: 8, Seed: 11},
				alerts: traceAlerts[s.stage], within: s.within},
			fidelityCase{sc: fidelity.Scenario{Name: name + ", with push callbacks", Duration: warm + after, Step: step(s.stage, s.to), Base: base, StartHour: 8, Seed: 12, Callbacks: true},
				alerts: []string{"TimpushCallbackFailureRatioHigh"}, within: 3 * time.Minute})
	}
	if quick { // a smoke run: half an hour of quiet traffic
		return []fidelityCase{{sc: fidelity.Scenario{Name: "no step, 30m (smoke)", Duration: 30 * time.Minute, Base: base, StartHour: 10, Seed: 100, Callbacks: true}}}
	}
	cases = append(cases, fidelityCase{sc: fidelity.Scenario{Name: "before: Huawei channel step, traces only, clicks owed (earlier scheduler)",
		Duration: warm + after, Step: step("channel", 0.40), Base: base, StartHour: 8, Seed: 11, Baseline: true},
		alerts: traceAlerts["channel"]})
	// The quiet month, cut into as many runs as there are cores: each is a
	// stretch of the same traffic with a seed of its own.
	quiet, parts := time.Duration(days)*24*time.Hour, max(1, min(runtime.NumCPU(), days))
	for i := range parts {
		cases = append(cases, fidelityCase{sc: fidelity.Scenario{Name: fmt.Sprintf("no step, %s (part %d of %d)", quiet, i+1, parts),
			Duration: quiet / time.Duration(parts), Base: base, StartHour: 0, Seed: int64(100 + i), Callbacks: true}})
	}
	return cases
}

func runFidelity(o *options) ([]row, error) {
	top, err := repositoryTop()
	if err != nil {
		return nil, err
	}
	var rules []string
	for _, f := range fidelityRules {
		rules = append(rules, filepath.Join(top, f))
	}
	cases := fidelityCases(o.quick)
	results := make([]*fidelity.Result, len(cases))
	errs := make([]error, len(cases))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			logf("fidelity: %s: %s simulated…", c.sc.Name, c.sc.Duration)
			results[i], errs[i] = fidelity.Run(c.sc, fidelity.Options{RuleFiles: rules, Progress: logf})
			if errs[i] == nil {
				logf("fidelity: %s done in %s", c.sc.Name, results[i].Took.Round(time.Second))
			}
		}()
	}
	wg.Wait()
	var rows []row
	falsePages := map[string]int{}
	var quietDays time.Duration
	for i, c := range cases {
		if errs[i] != nil {
			return rows, fmt.Errorf("%s: %w", c.sc.Name, errs[i])
		}
		res := results[i]
		if c.sc.Step == nil {
			quietDays += c.sc.Duration
			for name, n := range res.FalsePages {
				falsePages[name] += n
			}
			continue
		}
		rows = append(rows, fidelityRow(c, res))
	}
	rows = append(rows, quietRow(quietDays, falsePages, o.quick))
	return rows, nil
}

// fidelityRow reports one step scenario.
func fidelityRow(c fidelityCase, res *fidelity.Result) row {
	var fired []string
	for _, name := range sortedKeys(res.FiredAfter) {
		fired = append(fired, fmt.Sprintf("%s %s", name, res.FiredAfter[name].Round(time.Second)))
	}
	if len(fired) == 0 {
		fired = []string{"nothing fired for Huawei"}
	}
	first, met := time.Duration(0), true
	for _, a := range c.alerts {
		d, ok := res.FiredAfter[a]
		if !ok {
			met = false
			continue
		}
		if first == 0 || d < first {
			first = d
		}
	}
	met = met && first <= c.within
	r := row{bench: "alerting fidelity (simulated time): " + c.sc.Name,
		figure: fmt.Sprintf("fired after the step: %s; false pages: %s; calls that brought new outcomes: %s; %d calls over the limit",
			strings.Join(fired, ", "), pages(res.FalsePages), yieldShare(res), res.OverLimit)}
	if c.within > 0 {
		r.target = fmt.Sprintf("%s ≤ %s after the step, 0 over the limit", strings.Join(c.alerts, " or "), c.within)
		r.met = verdict(met && res.OverLimit == 0)
	}
	return r
}

func quietRow(d time.Duration, falsePages map[string]int, quick bool) row {
	worst := 0
	for _, n := range falsePages {
		worst = max(worst, n)
	}
	r := row{bench: fmt.Sprintf("alerting fidelity (simulated time): %s of steady traffic, push callbacks on", d.Round(time.Hour)),
		figure: "false pages: " + pages(falsePages), target: "≤ 1 false page per alert in 30 days"}
	if !quick {
		r.met = verdict(worst <= 1)
	}
	return r
}

// repositoryTop is the directory holding go.mod, from here up.
func repositoryTop() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("fidelity: no go.mod here or above: run from the repository")
		}
		dir = parent
	}
}

func pages(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var out []string
	for _, name := range sortedKeys(m) {
		out = append(out, fmt.Sprintf("%s %d", name, m[name]))
	}
	return strings.Join(out, ", ")
}

// yieldShare is the share of trace queries (first queries and requeries)
// that counted at least one new stage outcome.
func yieldShare(res *fidelity.Result) string {
	calls := res.Calls["first"] + res.Calls["requery"]
	if calls == 0 {
		return "no calls"
	}
	yielding := res.Yielding["first"] + res.Yielding["requery"]
	return fmt.Sprintf("%.0f %% (%.0f of %.0f; %.0f first queries, %.0f requeries)",
		100*yielding/calls, yielding, calls, res.Calls["first"], res.Calls["requery"])
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

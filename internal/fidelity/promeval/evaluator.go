// Package promeval evaluates Prometheus rule files in simulated time, in
// process, with Prometheus's own code: scraped exposition bodies are parsed
// by its text and OpenMetrics parsers and stored in a TSDB head, and its
// rule groups evaluate the rules on them with its PromQL engine. The
// fidelity harness (issue 11 §4) drives the exporter on a fake clock,
// feeds every scrape here and asks when the shipped alerts would page.
//
// It is a test tool: the exporter binary must never import it, and a test
// in this package fails if it does.
//
// What differs from a running Prometheus, and why it does not matter here:
//   - Scrapes are given, not made: only the parse-and-append part of the
//     scrape loop is reproduced (target labels, honor_labels: false,
//     honored timestamps, staleness markers, up and the scrape_samples_*
//     series). There is no relabelling, no sample limit and no
//     scrape_duration_seconds.
//   - Groups are evaluated at multiples of their interval since the Unix
//     epoch, as promtool does. A server adds a fixed offset per group (a
//     hash of file and group name) below the interval;
//     Options.ServerOffsets reproduces that.
//   - Alerting rules write ALERTS and ALERTS_FOR_STATE from the first
//     evaluation, as promtool does; a server starts at its second, after
//     restoring the `for:` state from storage.
//   - Nothing is sent to an Alertmanager; state changes are reported to
//     Options.OnTransition instead.
package promeval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	sloggokit "github.com/tjhop/slog-gokit"
)

// Defaults for Options.
const (
	// DefaultEvalInterval is evaluation_interval in
	// examples/prometheus/prometheus.yml.
	DefaultEvalInterval = 30 * time.Second
	// DefaultRetention keeps three hours: the longest range in the shipped
	// rules is one hour.
	DefaultRetention = 3 * time.Hour
)

// lookbackDelta is Prometheus's default --query.lookback-delta: an
// instant selector sees the newest sample of the last 5 minutes.
const lookbackDelta = 5 * time.Minute

// Options configure an Evaluator.
type Options struct {
	RuleFiles    []string      // loaded in order, like rule_files
	EvalInterval time.Duration // for groups without an interval of their own; default 30s
	// Retention: samples older than this are dropped, so memory stays
	// bounded. Default 3h. New fails if it is shorter than what a rule
	// reads (its longest range plus offsets).
	Retention time.Duration
	// ServerOffsets evaluates each group at the offset within its
	// interval that a running Prometheus gives it (a hash of the file name,
	// as given in RuleFiles, and the group name), not at multiples of the
	// interval.
	ServerOffsets bool
	// OnTransition, if set, is called for every alert that became pending,
	// firing or inactive, in evaluation order (see Advance).
	OnTransition func(Transition)
	Logger       log.Logger // may be nil
}

// Evaluator holds the scraped samples and the rule groups' state. Its
// methods may be called from several goroutines but run one at a time.
type Evaluator struct {
	mu      sync.Mutex
	opts    Options
	head    *head
	query   rules.QueryFunc
	groups  []*group
	targets map[uint64]*target
	logger  *slog.Logger
	started bool // the first Scrape or Advance fixed the first evaluation
}

// group is one rule group and when it is next evaluated.
type group struct {
	*rules.Group
	next    time.Time
	watches []*alertWatch
}

// New loads the rule files and prepares an empty storage. The Evaluator
// holds a temporary directory until Close.
func New(o Options) (*Evaluator, error) {
	if o.EvalInterval == 0 {
		o.EvalInterval = DefaultEvalInterval
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.EvalInterval < 0 || o.Retention < 0 {
		return nil, fmt.Errorf("promeval: negative evaluation interval %s or retention %s", o.EvalInterval, o.Retention)
	}
	logger := slog.New(slog.DiscardHandler)
	if o.Logger != nil {
		// Warnings and errors only: rule failures and dropped samples,
		// not the storage's start-up chatter.
		logger = slog.New(sloggokit.NewGoKitHandler(o.Logger, slog.LevelWarn))
	}
	h, err := newHead(o.Retention, logger)
	if err != nil {
		return nil, fmt.Errorf("promeval: %w", err)
	}
	e := &Evaluator{opts: o, head: h, targets: map[uint64]*target{}, logger: logger}
	if err := e.loadRules(); err != nil {
		h.close()
		return nil, fmt.Errorf("promeval: %w", err)
	}
	return e, nil
}

// loadRules loads the rule files through a rules manager, exactly as
// Prometheus does on start, and keeps the groups in file order.
func (e *Evaluator) loadRules() error {
	p := parser.NewParser(parser.Options{})
	engine := promql.NewEngine(promql.EngineOpts{
		Logger:     e.logger.With("component", "query engine"),
		MaxSamples: 50_000_000, // Prometheus's --query.max-samples
		Timeout:    2 * time.Minute,
		// Subqueries without a step use the evaluation interval, as in
		// Prometheus.
		NoStepSubqueryIntervalFn: func(int64) int64 { return e.opts.EvalInterval.Milliseconds() },
		LookbackDelta:            lookbackDelta,
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		Parser:                   p,
	})
	e.query = rules.EngineQueryFunc(engine, e.head)
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    e.query,
		AppendableV2: e.head,
		Queryable:    e.head,
		Context:      context.Background(),
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		ResendDelay:  time.Minute, // Prometheus's --rules.alert.resend-delay
		Logger:       e.logger,
		Parser:       p,
	})
	loaded, errs := m.LoadGroups(e.opts.EvalInterval, labels.EmptyLabels(), "", nil, false, e.opts.RuleFiles...)
	if len(errs) > 0 {
		return fmt.Errorf("loading rule files: %w", errors.Join(errs...))
	}
	order, err := groupOrder(e.opts.RuleFiles, p, e.logger)
	if err != nil {
		return err
	}
	for _, key := range order {
		g := &group{Group: loaded[key]}
		for _, r := range g.AlertingRules() {
			r.SetRestored(true) // write ALERTS from the first evaluation, as promtool does
			g.watches = append(g.watches, newAlertWatch(r))
		}
		for _, r := range g.Rules() {
			if need := lookback(r.Query(), lookbackDelta) + g.QueryOffset(); need > e.opts.Retention {
				return fmt.Errorf("retention %s is shorter than the %s that rule %q in group %q of %s reads", e.opts.Retention, need, r.Name(), g.Name(), g.File())
			}
		}
		e.groups = append(e.groups, g)
	}
	return nil
}

// groupOrder lists the groups' keys (rules.GroupKey) in the order of the
// files and of the groups in each file, the order promtool evaluates them
// in when its test file lists them so in group_eval_order (without one,
// promtool's order is random); a file named twice counts once, as its
// groups load once.
func groupOrder(files []string, p parser.Parser, logger *slog.Logger) ([]string, error) {
	var keys []string
	seen := map[string]bool{}
	for _, f := range files {
		rgs, errs := rulefmt.ParseFile(f, false, model.UTF8Validation, p, logger)
		if len(errs) > 0 {
			return nil, fmt.Errorf("loading rule files: %w", errors.Join(errs...))
		}
		for _, rg := range rgs.Groups {
			if key := rules.GroupKey(f, rg.Name); !seen[key] {
				seen[key] = true
				keys = append(keys, key)
			}
		}
	}
	return keys, nil
}

// Close releases the storage and its temporary directory.
func (e *Evaluator) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.head.close()
}

// Advance evaluates every rule group at each of its evaluation times up to
// and including t, oldest first; groups due at the same time go in the
// order of RuleFiles and of the groups in each file. Each group evaluates
// its rules in order and appends the results, so a recording rule's
// result is seen by the rules after it (and by later groups) at the same
// time, as in Prometheus.
//
// An evaluation sees the samples scraped until then: Scrape up to t first.
// The first evaluation is the first one at or after the first time given
// to Scrape, ScrapeFailed or Advance. A rule that fails to evaluate is
// logged and reported in the returned error (once per rule and call); the
// other rules and evaluations go on, as in Prometheus.
//
// Options.OnTransition is called for each change, in evaluation order,
// once all the evaluations are done; it may call the Evaluator.
func (e *Evaluator) Advance(t time.Time) error {
	changes, err := e.advance(t)
	if e.opts.OnTransition != nil {
		for _, c := range changes {
			e.opts.OnTransition(c)
		}
	}
	return err
}

func (e *Evaluator) advance(t time.Time) ([]Transition, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.start(t)
	var (
		changes []Transition
		errs    []error
		failed  = map[rules.Rule]bool{}
	)
	for {
		g := e.due(t)
		if g == nil {
			break
		}
		ts := g.next
		g.Eval(context.Background(), ts)
		for _, r := range g.Rules() {
			if err := r.LastError(); err != nil && !failed[r] {
				failed[r] = true
				errs = append(errs, fmt.Errorf("rule %q in group %q at %s: %w", r.Name(), g.Name(), ts.Format(time.RFC3339), err))
			}
		}
		for _, w := range g.watches {
			w.changes(ts, func(c Transition) { changes = append(changes, c) })
		}
		g.next = ts.Add(g.Interval())
	}
	if err := e.head.dropOld(t); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return changes, fmt.Errorf("promeval: %w", errors.Join(errs...))
	}
	return changes, nil
}

// start fixes each group's first evaluation on the first call.
func (e *Evaluator) start(t time.Time) {
	if e.started {
		return
	}
	e.started = true
	for _, g := range e.groups {
		g.next = e.slot(g, t)
	}
}

// slot is g's first evaluation time at or after t.
func (e *Evaluator) slot(g *group, t time.Time) time.Time {
	var s time.Time
	if e.opts.ServerOffsets {
		s = g.EvalTimestamp(t.UnixNano())
	} else {
		ns, itv := t.UnixNano(), int64(g.Interval())
		s = time.Unix(0, ns-((ns%itv)+itv)%itv).UTC()
	}
	if s.Before(t) {
		s = s.Add(g.Interval())
	}
	return s
}

// due returns the group evaluated next if that is at or before t.
func (e *Evaluator) due(t time.Time) *group {
	var first *group
	for _, g := range e.groups {
		if !g.next.After(t) && (first == nil || g.next.Before(first.next)) {
			first = g
		}
	}
	return first
}

// Alerts returns the active (pending and firing) alerts after the last
// evaluation, by name and labels.
func (e *Evaluator) Alerts() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	var all []Alert
	for _, g := range e.groups {
		for _, r := range g.AlertingRules() {
			for _, a := range r.ActiveAlerts() {
				all = append(all, alertOf(r, a))
			}
		}
	}
	sortAlerts(all)
	return all
}

// Query evaluates an instant PromQL query at t, as the rules do (a scalar
// result becomes a one-sample vector without labels). It sees what was
// stored up to now: the scrapes and the rule results of the evaluations
// at or before t, within the retention.
func (e *Evaluator) Query(expr string, t time.Time) (promql.Vector, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, err := e.query(context.Background(), expr, t)
	if err != nil {
		return nil, fmt.Errorf("promeval: query %q at %s: %w", expr, t.Format(time.RFC3339), err)
	}
	return v, nil
}

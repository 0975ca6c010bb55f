package promeval

import (
	"cmp"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
)

// Alert is one active alert: pending while its condition has held for
// less than the rule's `for:`, firing after (and while `keep_firing_for`
// keeps it firing).
type Alert struct {
	Name string // the alerting rule's name (the alertname label)
	// Labels are the alert's labels, as sent to Alertmanager: the
	// expression's result labels without __name__, the rule's labels and
	// alertname.
	Labels      labels.Labels
	Annotations labels.Labels
	State       rules.AlertState // rules.StatePending or rules.StateFiring
	Value       float64          // the expression's value at the last evaluation
	ActiveAt    time.Time        // when the condition started to hold
	FiredAt     time.Time        // when it started firing; zero while pending
}

// Transition is a change of one alert's state at one evaluation: it
// became pending or firing (From rules.StateInactive or rules.StatePending),
// or it ended (To rules.StateInactive): resolved if it was firing, given
// up before its `for:` if it was pending.
type Transition struct {
	At       time.Time // the evaluation time
	From, To rules.AlertState
	Alert    Alert // the alert after the change; before it when it ended
}

// alertWatch remembers one alerting rule's active alerts after its last
// evaluation, to tell what the next one changed.
type alertWatch struct {
	rule   *rules.AlertingRule
	active map[uint64]Alert // by label hash
}

func newAlertWatch(r *rules.AlertingRule) *alertWatch {
	return &alertWatch{rule: r, active: map[uint64]Alert{}}
}

// changes compares the rule's active alerts now, after an evaluation at
// ts, with those after the previous one, and calls report for each
// change, ended alerts last, each kind in label order.
func (w *alertWatch) changes(ts time.Time, report func(Transition)) {
	now := make(map[uint64]Alert, len(w.active))
	var started []Transition
	for _, a := range w.rule.ActiveAlerts() {
		cur := alertOf(w.rule, a)
		h := cur.Labels.Hash()
		now[h] = cur
		before, ok := w.active[h]
		switch {
		case !ok || !before.ActiveAt.Equal(cur.ActiveAt):
			started = append(started, Transition{At: ts, From: rules.StateInactive, To: cur.State, Alert: cur})
		case before.State != cur.State:
			started = append(started, Transition{At: ts, From: before.State, To: cur.State, Alert: cur})
		}
	}
	var ended []Transition
	for h, before := range w.active {
		if _, ok := now[h]; !ok {
			ended = append(ended, Transition{At: ts, From: before.State, To: rules.StateInactive, Alert: before})
		}
	}
	w.active = now
	for _, list := range [][]Transition{started, ended} {
		slices.SortFunc(list, func(a, b Transition) int { return labels.Compare(a.Alert.Labels, b.Alert.Labels) })
		for _, t := range list {
			report(t)
		}
	}
}

func alertOf(r *rules.AlertingRule, a *rules.Alert) Alert {
	return Alert{
		Name:        r.Name(),
		Labels:      a.Labels,
		Annotations: a.Annotations,
		State:       a.State,
		Value:       a.Value,
		ActiveAt:    a.ActiveAt,
		FiredAt:     a.FiredAt,
	}
}

// sortAlerts orders alerts by name, then labels.
func sortAlerts(alerts []Alert) {
	slices.SortFunc(alerts, func(a, b Alert) int {
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return labels.Compare(a.Labels, b.Labels)
	})
}

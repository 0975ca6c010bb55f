package promeval

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
)

// t0 is a multiple of every evaluation interval used here, so the first
// scrape is also an evaluation time.
var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

var app = labels.FromStrings("job", "app", "instance", "app:9100")

const textFormat = "text/plain; version=0.0.4; charset=utf-8"

// sim scrapes one target every 15 simulated seconds and evaluates after
// each scrape, recording the transitions, as the fidelity harness will.
type sim struct {
	t           *testing.T
	e           *Evaluator
	now         time.Time
	transitions []Transition
}

func newSim(t *testing.T, o Options) *sim {
	t.Helper()
	s := &sim{t: t, now: t0}
	o.OnTransition = func(tr Transition) {
		s.transitions = append(s.transitions, tr)
		// The callback may use the Evaluator: after one evaluation, as
		// here, Alerts shows what the transition says.
		if tr.To != rules.StateInactive && !hasAlert(s.e.Alerts(), tr.Alert) {
			t.Errorf("%s: %s not in Alerts()", tr.At.Sub(t0), tr.Alert.Labels)
		}
	}
	s.e = newEvaluator(t, o)
	return s
}

func newEvaluator(t *testing.T, o Options) *Evaluator {
	t.Helper()
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

func hasAlert(alerts []Alert, a Alert) bool {
	for _, b := range alerts {
		if labels.Equal(a.Labels, b.Labels) && a.State == b.State {
			return true
		}
	}
	return false
}

// scrape stores body as the scrape at s.now, evaluates up to s.now and
// moves s.now on by 15s.
func (s *sim) scrape(body string) {
	s.t.Helper()
	if err := s.e.Scrape(s.now, app, []byte(body), textFormat); err != nil {
		s.t.Fatal(err)
	}
	s.advance()
}

func (s *sim) scrapeFailed() {
	s.t.Helper()
	if err := s.e.ScrapeFailed(s.now, app); err != nil {
		s.t.Fatal(err)
	}
	s.advance()
}

func (s *sim) advance() {
	s.t.Helper()
	if err := s.e.Advance(s.now); err != nil {
		s.t.Fatal(err)
	}
	s.now = s.now.Add(15 * time.Second)
}

// transitionsOf lists name's transitions as "offset from t0: from→to".
func (s *sim) transitionsOf(name string) []string {
	var out []string
	for _, tr := range s.transitions {
		if tr.Alert.Name == name {
			out = append(out, fmt.Sprintf("%s: %s→%s", tr.At.Sub(t0), tr.From, tr.To))
		}
	}
	return out
}

// query returns the single value expr has at t, or NaN if it has none.
func (s *sim) query(expr string, t time.Time) float64 {
	s.t.Helper()
	v, err := s.e.Query(expr, t)
	if err != nil {
		s.t.Fatal(err)
	}
	switch len(v) {
	case 0:
		return math.NaN()
	case 1:
		return v[0].F
	}
	s.t.Fatalf("%s at %s: %d samples, want at most one: %v", expr, t.Sub(t0), len(v), v)
	return 0
}

// counters renders requests_total and errors_total.
func counters(requests, errors float64) string {
	return fmt.Sprintf("# TYPE requests_total counter\nrequests_total %g\n# TYPE errors_total counter\nerrors_total %g\n", requests, errors)
}

func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

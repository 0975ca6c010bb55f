package promeval

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
)

// The error ratio steps from 5 % to 50 % at 10m and to 0 at 20m. The
// alert goes pending at the first evaluation whose 1-minute window holds
// the step, fires `for: 2m` later, and after the drop keeps firing for
// `keep_firing_for: 1m` past the first evaluation that no longer matches.
func TestForAndKeepFiringFor(t *testing.T) {
	s := newSim(t, Options{RuleFiles: []string{"testdata/rules.yml"}})
	var requests, errors float64
	for s.now.Before(t0.Add(25 * time.Minute)) {
		elapsed := s.now.Sub(t0)
		switch {
		case elapsed == 0:
		case elapsed <= 10*time.Minute-15*time.Second:
			requests, errors = requests+300, errors+15
		case elapsed <= 20*time.Minute-15*time.Second:
			requests, errors = requests+300, errors+150
		default:
			requests += 300
		}
		s.scrape(counters(requests, errors))
		if s.now.Sub(t0) == 13*time.Minute {
			checkFiring(t, s.e)
		}
	}
	equalStrings(t, "ErrorRatioHigh", s.transitionsOf("ErrorRatioHigh"), []string{
		"10m0s: inactive→pending",
		"12m0s: pending→firing",
		"21m30s: firing→inactive",
	})
	// The ratio rule reads the rate rule evaluated just before it, at the
	// same time: at 30s, the first evaluation with two samples, there is
	// no older rate to read.
	if got := s.query("job:errors:ratio1m", t0.Add(30*time.Second)); math.Abs(got-0.05) > 1e-12 {
		t.Errorf("job:errors:ratio1m at 30s = %v, want 0.05", got)
	}
}

// checkFiring checks Alerts() at 12m45s, after the evaluation at 12m30s.
func checkFiring(t *testing.T, e *Evaluator) {
	t.Helper()
	alerts := e.Alerts()
	if len(alerts) != 1 {
		t.Fatalf("Alerts() = %v, want ErrorRatioHigh only", alerts)
	}
	a := alerts[0]
	want := labels.FromStrings("alertname", "ErrorRatioHigh", "job", "app", "severity", "page")
	if a.Name != "ErrorRatioHigh" || !labels.Equal(a.Labels, want) || a.State != rules.StateFiring ||
		!a.ActiveAt.Equal(t0.Add(10*time.Minute)) || !a.FiredAt.Equal(t0.Add(12*time.Minute)) {
		t.Errorf("alert = %+v, want firing %s, active since 10m, fired at 12m", a, want)
	}
	if got := a.Annotations.Get("summary"); got != "app fails 50% of requests" {
		t.Errorf("summary = %q", got)
	}
}

// A series that vanishes from the body gets a staleness marker: an alert
// on it resolves at the next evaluation, not 5 minutes later. A failed
// scrape writes up=0 and marks everything stale.
func TestStalenessAndFailedScrapes(t *testing.T) {
	s := newSim(t, Options{RuleFiles: []string{"testdata/rules.yml"}})
	for s.now.Before(t0.Add(7 * time.Minute)) {
		elapsed := s.now.Sub(t0)
		switch {
		case elapsed < 2*time.Minute:
			s.scrape("temperature 40\nhumidity 0.5\n")
		case elapsed >= 3*time.Minute && elapsed < 5*time.Minute:
			s.scrapeFailed()
		default:
			s.scrape("humidity 0.5\n")
		}
	}
	equalStrings(t, "Hot", s.transitionsOf("Hot"), []string{"0s: inactive→firing", "2m0s: firing→inactive"})
	equalStrings(t, "Down", s.transitionsOf("Down"), []string{
		"3m0s: inactive→pending", "4m0s: pending→firing", "5m0s: firing→inactive",
	})
	for _, c := range []struct {
		expr string
		at   time.Duration
		want float64
	}{
		{"temperature", 2*time.Minute - time.Millisecond, 40},
		{"temperature", 2 * time.Minute, math.NaN()}, // the marker, not the 5-minute lookback
		{"humidity", 3*time.Minute - time.Millisecond, 0.5},
		{"humidity", 3 * time.Minute, math.NaN()}, // failed scrape
		{"humidity", 5 * time.Minute, 0.5},
		{"up", 4 * time.Minute, 0},
		{"up", 5 * time.Minute, 1},
		{"scrape_samples_scraped", 5 * time.Minute, 1},
		{"scrape_series_added", 0, 2},
		{"scrape_series_added", 15 * time.Second, 0},
		{"scrape_series_added", 5 * time.Minute, 0}, // still cached, as in Prometheus
	} {
		if got := s.query(c.expr, t0.Add(c.at)); !sameFloat(got, c.want) {
			t.Errorf("%s at %s = %v, want %v", c.expr, c.at, got, c.want)
		}
	}
}

// increase() extrapolates as Prometheus 3 does: a range is left-open, the
// result is stretched to the window's ends when the samples come close to
// them, by half a step otherwise, and never below the counter's zero.
func TestIncreaseExtrapolation(t *testing.T) {
	s := newSim(t, Options{RuleFiles: []string{"testdata/rules.yml"}})
	for v := 100.0; s.now.Before(t0.Add(21 * time.Minute)); v += 100 {
		s.scrape("c_total " + formatFloat(v) + "\n")
	}
	for _, c := range []struct {
		expr string
		at   time.Duration
		want float64
	}{
		// 21 samples over 5m; the window starts 10m before the first, so it
		// is stretched by half a step (7.5s, less than the 15s to zero).
		{"increase(c_total[15m])", 5 * time.Minute, 2000 * 307.5 / 300},
		// 60 samples: the one exactly 15m back is outside the window.
		{"count_over_time(c_total[15m])", 20 * time.Minute, 60},
		// 5900 over 14m45s, stretched to 15m.
		{"increase(c_total[15m])", 20 * time.Minute, 6000},
		{"rate(c_total[1m])", 20 * time.Minute, 100.0 / 15},
	} {
		if got := s.query(c.expr, t0.Add(c.at)); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s at %s = %v, want %v", c.expr, c.at, got, c.want)
		}
	}
}

// A rule that fails to evaluate is reported by Advance, once per call and
// rule, and the other rules go on.
func TestAdvanceReportsRuleErrors(t *testing.T) {
	s := newSim(t, Options{RuleFiles: []string{"testdata/eval-error.yml"}})
	for range 4 {
		if err := s.e.Scrape(s.now, app, []byte(counters(float64(s.now.Sub(t0)/time.Second), 1)), textFormat); err != nil {
			t.Fatal(err)
		}
		s.now = s.now.Add(15 * time.Second)
	}
	err := s.e.Advance(s.now)
	if err == nil || !strings.Contains(err.Error(), `rule "both:rate1m" in group "failing"`) ||
		!strings.Contains(err.Error(), "same labelset") || strings.Count(err.Error(), "both:rate1m") != 1 {
		t.Errorf("Advance: %v, want one error for both:rate1m", err)
	}
	equalStrings(t, "StillEvaluated", s.transitionsOf("StillEvaluated"), []string{"0s: inactive→firing"})
}

// With ServerOffsets, a group is evaluated at the offset a Prometheus
// server gives it: the hash of its file and name, modulo the interval.
func TestServerOffsets(t *testing.T) {
	const file = "testdata/rules.yml"
	s := newSim(t, Options{RuleFiles: []string{file}, ServerOffsets: true})
	for range 4 {
		s.scrape("temperature 40\n")
	}
	hash := labels.FromStrings("name", "alerts", "file", file).Hash()
	offset := time.Duration(hash % uint64(30*time.Second))
	if len(s.transitions) != 1 || !s.transitions[0].At.Equal(t0.Add(offset)) {
		t.Errorf("transitions = %+v, want Hot firing at t0+%s", s.transitions, offset)
	}
}

func TestNewRejectsBadRuleFiles(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"unparsable expression", "testdata/invalid-expr.yml", []string{"testdata/invalid-expr.yml", "unclosed left parenthesis"}},
		{"unknown key", "testdata/invalid-yaml.yml", []string{"testdata/invalid-yaml.yml", "unknown_key"}},
		{"missing file", "testdata/missing.yml", []string{"testdata/missing.yml", "no such file"}},
		{"range longer than the retention", "testdata/long-range.yml", []string{
			`retention 3h0m0s is shorter than the 25h0m0s that rule "day:requests:increase1d"`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := New(Options{RuleFiles: []string{c.file}})
			if err == nil {
				e.Close()
				t.Fatal("New succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// Samples older than the retention are dropped, and so are the series
// that have none left: memory does not grow with the simulated time.
func TestRetentionBoundsTheStorage(t *testing.T) {
	const retention = 30 * time.Minute
	s := newSim(t, Options{RuleFiles: []string{"testdata/rules.yml"}, Retention: retention})
	for i := 0; s.now.Before(t0.Add(6 * time.Hour)); i++ {
		// A new series every minute, as when a label value churns.
		s.scrape(counters(float64(i), 0) + "churn{id=\"" + formatFloat(float64(i/4)) + "\"} 1\n")
	}
	if minT, oldest := time.UnixMilli(s.e.head.MinTime()), s.now.Add(-retention-truncateEvery); minT.Before(oldest) {
		t.Errorf("oldest sample at %s, want none before %s", minT.Sub(t0), oldest.Sub(t0))
	}
	// Series within retention plus a truncation period plus a chunk (at
	// most 120 samples, 30 min) may remain: far fewer than the 360 made.
	if n := s.e.head.NumSeries(); n > 150 {
		t.Errorf("%d series in the storage after 6h of churn, want at most 150", n)
	}
	if got := s.query("requests_total", s.now.Add(-15*time.Second)); got != 1439 {
		t.Errorf("requests_total = %v, want 1439: the newest samples are kept", got)
	}
}

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

package promeval

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// queryLabels returns the label sets expr has at t.
func queryLabels(t *testing.T, e *Evaluator, expr string, at time.Time) []string {
	t.Helper()
	v, err := e.Query(expr, at)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range v {
		out = append(out, seriesString(s.Metric)+" "+formatFloat(s.F))
	}
	slices.Sort(out)
	return out
}

// The target's labels are added to every series; labels of the same name
// in the body are kept with an exported_ prefix (honor_labels: false).
func TestScrapeAddsTargetLabels(t *testing.T) {
	e := newEvaluator(t, Options{})
	body := `foo{job="x",instance="y",exported_job="z"} 1` + "\nbar 2\n"
	if err := e.Scrape(t0, app, []byte(body), textFormat); err != nil {
		t.Fatal(err)
	}
	equalStrings(t, "series", queryLabels(t, e, `{__name__=~"foo|bar"}`, t0), []string{
		`bar{instance="app:9100", job="app"} 2`,
		`foo{exported_exported_job="x", exported_instance="y", exported_job="z", instance="app:9100", job="app"} 1`,
	})
}

// Timestamps in the body are honored, and such series get no staleness
// marker when they vanish.
func TestScrapeHonorsTimestamps(t *testing.T) {
	e := newEvaluator(t, Options{})
	stamped := "old 5 " + strconv.FormatInt(t0.Add(-time.Minute).UnixMilli(), 10) + "\nnow 1\n"
	if err := e.Scrape(t0, app, []byte(stamped), textFormat); err != nil {
		t.Fatal(err)
	}
	if err := e.Scrape(t0.Add(15*time.Second), app, []byte("other 1\n"), textFormat); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(30 * time.Second)
	equalStrings(t, "series", queryLabels(t, e, `timestamp({__name__=~"old|now"})`, at), []string{
		`{instance="app:9100", job="app"} ` + formatFloat(float64(t0.Add(-time.Minute).Unix())),
	})
}

func TestScrapeFormats(t *testing.T) {
	for _, c := range []struct {
		name, contentType, body string
	}{
		{"text 0.0.4", textFormat, "# TYPE c counter\nc_total 3\n"},
		{"no content type is text", "", "c_total 3\n"},
		{"OpenMetrics", "application/openmetrics-text; version=1.0.0; charset=utf-8", "# TYPE c counter\nc_total 3\n# EOF\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEvaluator(t, Options{})
			if err := e.Scrape(t0, app, []byte(c.body), c.contentType); err != nil {
				t.Fatal(err)
			}
			equalStrings(t, "c_total", queryLabels(t, e, "c_total", t0), []string{`c_total{instance="app:9100", job="app"} 3`})
		})
	}
}

// A body that does not parse is an error and stored as Prometheus stores
// it: none of its samples, the previous scrape's series marked stale,
// up=0. The next good scrape is stored as usual.
func TestScrapeRejectsMalformedBodies(t *testing.T) {
	for _, c := range []struct {
		name, contentType, body, want string
	}{
		{"garbage line", textFormat, "temperature 41\nthis is not a sample\n", `while parsing: "this is"`},
		{"bad value", textFormat, "temperature forty\n", "strconv.ParseFloat"},
		{"OpenMetrics without EOF", "application/openmetrics-text; version=1.0.0", "temperature 41\n", "EOF"},
		{"invalid UTF-8 label value", textFormat, "temperature{room=\"\xff\"} 41\n", "invalid"},
		{"unsupported content type", "application/json", `{"temperature": 41}`, "unsupported Content-Type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEvaluator(t, Options{})
			if err := e.Scrape(t0, app, []byte("temperature 40\n"), textFormat); err != nil {
				t.Fatal(err)
			}
			bad := t0.Add(15 * time.Second)
			err := e.Scrape(bad, app, []byte(c.body), c.contentType)
			if err == nil || !strings.Contains(err.Error(), "promeval: scrape of") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Scrape: %v, want an error mentioning %q", err, c.want)
			}
			equalStrings(t, "after the bad scrape", queryLabels(t, e, `{__name__=~"temperature|up"}`, bad), []string{
				`up{instance="app:9100", job="app"} 0`,
			})
			good := bad.Add(15 * time.Second)
			if err := e.Scrape(good, app, []byte("temperature 42\n"), textFormat); err != nil {
				t.Fatal(err)
			}
			equalStrings(t, "after the next good one", queryLabels(t, e, `{__name__=~"temperature|up"}`, good), []string{
				`temperature{instance="app:9100", job="app"} 42`,
				`up{instance="app:9100", job="app"} 1`,
			})
		})
	}
}

// The same series twice in one body keeps the first sample and drops the
// second, as Prometheus does; the scrape itself succeeds.
func TestScrapeDropsDuplicateSeries(t *testing.T) {
	e := newEvaluator(t, Options{})
	if err := e.Scrape(t0, app, []byte("a 1\nb 2\na 3\n"), textFormat); err != nil {
		t.Fatal(err)
	}
	equalStrings(t, "a", queryLabels(t, e, "a", t0), []string{`a{instance="app:9100", job="app"} 1`})
	equalStrings(t, "counts", queryLabels(t, e, `{__name__=~"scrape_samples_scraped|scrape_series_added"}`, t0), []string{
		`scrape_samples_scraped{instance="app:9100", job="app"} 3`,
		`scrape_series_added{instance="app:9100", job="app"} 2`,
	})
}

// Targets keep their own staleness state, and time only moves forward.
func TestScrapeTargetsAndOrder(t *testing.T) {
	e := newEvaluator(t, Options{})
	other := labels.FromStrings("job", "app", "instance", "other:9100")
	for _, s := range []struct {
		at     time.Duration
		target labels.Labels
		body   string
	}{
		{0, app, "x 1\n"},
		{0, other, "x 2\n"},
		{15 * time.Second, other, "y 1\n"}, // x of other goes stale, x of app does not
	} {
		if err := e.Scrape(t0.Add(s.at), s.target, []byte(s.body), textFormat); err != nil {
			t.Fatal(err)
		}
	}
	equalStrings(t, "x", queryLabels(t, e, "x", t0.Add(15*time.Second)), []string{`x{instance="app:9100", job="app"} 1`})
	for _, at := range []time.Duration{0, 15 * time.Second} {
		err := e.Scrape(t0.Add(at), other, []byte("y 2\n"), textFormat)
		if err == nil || !strings.Contains(err.Error(), "is not after the previous one") {
			t.Errorf("Scrape at %s after 15s: %v, want an error", at, err)
		}
		if err := e.ScrapeFailed(t0.Add(at), other); err == nil {
			t.Errorf("ScrapeFailed at %s after 15s succeeded", at)
		}
	}
}

// No body makes Scrape panic.
func FuzzScrape(f *testing.F) {
	f.Add([]byte("# TYPE c counter\nc_total{a=\"b\"} 3 1700000000000\n"), false)
	f.Add([]byte("# TYPE c counter\nc_total 3\n# EOF\n"), true)
	f.Add([]byte("h_bucket{le=\"+Inf\"} 1\nh_sum 2\nh_count 1\n"), false)
	f.Add([]byte("x{} NaN\nx{y=\"\\\"\"} +Inf\n"), false)
	f.Fuzz(func(t *testing.T, body []byte, openMetrics bool) {
		e := newEvaluator(t, Options{})
		ct := textFormat
		if openMetrics {
			ct = "application/openmetrics-text; version=1.0.0"
		}
		_ = e.Scrape(t0, app, body, ct)
		_ = e.Scrape(t0.Add(time.Second), app, body, ct)
		if v, err := e.Query("up", t0.Add(time.Second)); err != nil || len(v) != 1 || math.IsNaN(v[0].F) {
			t.Errorf("up = %v, %v; want one value", v, err)
		}
	})
}

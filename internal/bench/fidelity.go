package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/exposition"
	"github.com/timpush/timpush_exporter/internal/pacer"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/simulator"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Signal fidelity, in simulated time: 100 PushIDs/s from the simulator go
// through the real collector, client and pacer (rate_limit 1, the
// simulator enforcing 1 call/s) on a fake clock, with the default schedule
// (query_delay 60s, requery_after [5m, 30m]) and a state file. Huawei's
// device failure rate is 5 %, then 30 % from a known moment. Every 15
// simulated seconds the registry is scraped as Prometheus would; the
// 1-minute ratio is Δfailures/Δtotal of huawei/device between the first
// and the last scrape in (t−60s, t], which is what
// rate(push_stage_failures_total[1m]) / rate(push_stage_total[1m]) gives
// when both have the same samples (the extrapolation cancels).

const (
	fidelityPushesPerSec = 100
	fidelityBefore       = 0.05
	fidelityAfter        = 0.30
	fidelityThreshold    = 0.15
	huawei               = 3 // PushPlatform
	scrapeEvery          = 15 * time.Second
	// fidelitySettle is when, after the change, the 1m ratio is taken to
	// have settled: query_delay (60s) plus the window, plus a minute.
	fidelitySettle = 3 * time.Minute
)

type fidelityVariant struct {
	name  string
	ratio float64
	auto  bool
}

type scrapeSample struct {
	at                     time.Time
	failures, total, ratio float64 // counters of huawei/device; sample ratio in force
	calls, overLimit       int
	pending                float64
}

func runFidelity(o *options) ([]row, error) {
	// The warm-up outlasts the last requery (30 min), so the steady period
	// sees every kind of call a push costs, as a long-running exporter does.
	warm, steady, after := 35*time.Minute, 30*time.Minute, 15*time.Minute
	if o.quick {
		warm, steady, after = time.Minute, time.Minute, 3*time.Minute
	}
	var variants []fidelityVariant
	if o.wantFixed() {
		variants = append(variants, fidelityVariant{"sample_ratio 0.005", 0.005, false})
		if !o.quick {
			variants = append(variants, fidelityVariant{"sample_ratio 0.01", 0.01, false})
		}
	}
	if o.wantAuto() {
		variants = append(variants, fidelityVariant{"sample_ratio auto", 0, true})
	}
	var rows []row
	for i, v := range variants {
		started := time.Now()
		samples, err := fidelityRun(filepath.Join(o.tmp, fmt.Sprintf("fidelity-%d", i)), v, warm+steady, warm+steady+after)
		if err != nil {
			return rows, err
		}
		start := samples[0].at.Add(-scrapeEvery)
		rs := fidelityRows(v, samples, start.Add(warm), start.Add(warm+steady))
		logf("fidelity %s: %s simulated in %s", v.name, warm+steady+after, time.Since(started).Round(time.Second))
		for _, r := range rs {
			logf("  %s: %s", r.bench, r.figure)
		}
		rows = append(rows, rs...)
	}
	return rows, nil
}

// fidelityRun streams pushes for total simulated time, raising huawei's
// device failure rate at change, and returns a scrape every 15 s.
func fidelityRun(dir string, v fidelityVariant, changeAt, total time.Duration) ([]scrapeSample, error) {
	// GenUserSig stamps the wall clock, so simulated time starts near it.
	start := time.Now().Truncate(time.Second)
	fake := clock.NewFake(start)
	sim := simulator.New(simulator.Config{
		Apps:      []simulator.App{{SDKAppID: simAppID, Identifier: simAdmin, SecretKey: simKey}},
		RateLimit: 1, Clock: fake, Seed: 42,
		DeviceFailure: map[int]float64{huawei: fidelityBefore},
	})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	st, _, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	c := collector.New(collector.Options{Clock: fake, Store: st}, reg)
	saved := exposition.Gatherer(c) // the persisted series, which reg does not gather
	tr := &inflightTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	client, err := timapi.New(timapi.Options{SDKAppID: simAppID, Identifier: simAdmin, SecretKey: simKey, BaseURL: url,
		HTTPClient: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		Limiter:    pacer.New(1, fake), Clock: fake, Metrics: timapi.NewMetrics(reg), App: benchAppTag})
	if err != nil {
		return nil, err
	}
	app := collector.App{Name: benchAppTag, SampleRatio: v.ratio, QueryDelay: time.Minute,
		RequeryAfter: []time.Duration{5 * time.Minute, 30 * time.Minute}, MaxPending: 100_000, RateLimit: 1, Tracer: client}
	if v.auto {
		applyAuto(&app)
	}
	c.SetApps([]collector.App{app})
	if err := c.Restore(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	defer func() { cancel(); <-runDone }()

	d := &driver{fake: fake, tr: tr}
	change := start.Add(changeAt)
	var samples []scrapeSample
	for t := start; t.Before(start.Add(total)); t = t.Add(time.Second) {
		if t.Equal(change) {
			sim.SetDeviceFailure(huawei, fidelityAfter)
		}
		ids := make([]pushid.ID, fidelityPushesPerSec)
		for i := range ids {
			ids[i] = pushid.ID{App: benchAppTag, PushID: sim.NewPush(simAppID), Source: pushid.SourceFile, Seen: t}
		}
		offer(c, ids)
		if err := d.advanceTo(t.Add(time.Second)); err != nil {
			return nil, err
		}
		if now := t.Add(time.Second); now.Sub(start)%scrapeEvery == 0 {
			stats := sim.Stats(simAppID)
			match := map[string]string{"platform": "huawei", "stage": "device"}
			samples = append(samples, scrapeSample{at: now,
				failures: gatherSum(saved, "push_stage_failures_total", match),
				total:    gatherSum(saved, "push_stage_total", match),
				ratio:    gatherSum(reg, "timpush_exporter_sample_ratio", nil),
				calls:    stats.Calls, overLimit: stats.OverLimit,
				pending: gatherSum(reg, "timpush_exporter_pending_pushids", nil)})
		}
	}
	return samples, nil
}

// fidelityRows turns the scrapes into the benchmark's rows.
func fidelityRows(v fidelityVariant, s []scrapeSample, steadyFrom, change time.Time) []row {
	w1, w10 := windowStats(s, time.Minute, steadyFrom, change), windowStats(s, 10*time.Minute, steadyFrom, change)
	i0, i1 := indexAt(s, steadyFrom), indexAt(s, change)
	calls := float64(s[i1].calls-s[i0].calls) / change.Sub(steadyFrom).Seconds()
	last := s[len(s)-1]
	name := fmt.Sprintf("signal fidelity, %s (simulated time)", v.name)
	return []row{
		{
			bench: name + ": huawei device failures 5 % → 30 %, time until the 1m ratio crosses 15 %",
			figure: fmt.Sprintf("held ≥ 15 %% for 1 min (an alert with for: 1m fires): %s; first scrape ≥ 15 %%: %s (may be noise, see the false crossings below); with a 10m window: held %s, first %s",
				w1.held, w1.first, w10.held, w10.first),
		},
		{
			bench: fmt.Sprintf("%s: 1m ratio over a steady %s at a true 5 %%", name, change.Sub(steadyFrom)),
			figure: fmt.Sprintf("mean %.1f %%, std %.1f %% (RMS error %.1f pp) over %d scrapes; %d of them ≥ 15 %% (false crossings); %.1f huawei device outcomes per window; from %s after the change: mean %.1f %% (true 30 %%); with a 10m window: mean %.1f %%, std %.1f %%, %d false crossings, %.0f outcomes per window",
				100*w1.mean, 100*w1.std, 100*w1.rmse, w1.n, w1.falseCross, w1.outcomes, fidelitySettle, 100*w1.meanAfter,
				100*w10.mean, 100*w10.std, w10.falseCross, w10.outcomes),
		},
		{
			bench: name + ": budget use over the steady period",
			figure: fmt.Sprintf("%.3f calls/s ÷ rate_limit 1; %d over the limit (whole run); sample ratio in force %.4g; %.0f pending at the end",
				calls, last.overLimit, s[i1].ratio, last.pending),
			target: "0 over the limit",
			met:    verdict(last.overLimit == 0),
		},
	}
}

// windowed are the statistics of the windowed failure ratio.
type windowed struct {
	mean, std, rmse, outcomes, meanAfter float64
	n, falseCross                        int
	first, held                          string
}

// windowStats summarises the ratio over window: in the steady period
// [steadyFrom, change], and after the change.
func windowStats(s []scrapeSample, window time.Duration, steadyFrom, change time.Time) windowed {
	ratio := windowRatios(s, window)
	var w windowed
	var steady, after, outcomes []float64
	for i, x := range s {
		if math.IsNaN(ratio[i]) {
			continue
		}
		switch {
		case !x.at.Before(steadyFrom.Add(window)) && !x.at.After(change):
			steady = append(steady, ratio[i])
			outcomes = append(outcomes, x.total-firstInWindow(s, i, window).total)
			if ratio[i] >= fidelityThreshold {
				w.falseCross++
			}
		case x.at.After(change.Add(fidelitySettle + window - time.Minute)):
			after = append(after, ratio[i])
		}
	}
	w.n = len(steady)
	w.mean, w.std = meanStd(steady)
	for _, r := range steady {
		w.rmse += (r - fidelityBefore) * (r - fidelityBefore)
	}
	w.rmse = math.Sqrt(w.rmse / float64(max(1, len(steady))))
	w.outcomes, _ = meanStd(outcomes)
	w.meanAfter, _ = meanStd(after)
	w.first, w.held = crossing(s, ratio, change)
	return w
}

// windowRatios is the failure ratio over window at each scrape (NaN
// without outcomes in the window).
func windowRatios(s []scrapeSample, window time.Duration) []float64 {
	out := make([]float64, len(s))
	for i := range s {
		f := firstInWindow(s, i, window)
		if dt := s[i].total - f.total; dt > 0 {
			out[i] = (s[i].failures - f.failures) / dt
		} else {
			out[i] = math.NaN()
		}
	}
	return out
}

// firstInWindow is the earliest scrape in (s[i].at−window, s[i].at].
func firstInWindow(s []scrapeSample, i int, window time.Duration) scrapeSample {
	j := i
	for j > 0 && s[j-1].at.After(s[i].at.Add(-window)) {
		j--
	}
	return s[j]
}

// crossing returns how long after change the ratio first reached the
// threshold, and when it had stayed there for a minute.
func crossing(s []scrapeSample, ratio []float64, change time.Time) (first, held string) {
	const never = "not within the run"
	first, held = never, never
	var since time.Time
	for i, x := range s {
		if !x.at.After(change) {
			continue
		}
		if ratio[i] < fidelityThreshold || math.IsNaN(ratio[i]) {
			since = time.Time{}
			continue
		}
		if first == never {
			first = x.at.Sub(change).String() + " after the change"
		}
		if since.IsZero() {
			since = x.at
		}
		if x.at.Sub(since) >= time.Minute {
			return first, x.at.Sub(change).String() + " after the change"
		}
	}
	return first, held
}

func indexAt(s []scrapeSample, t time.Time) int {
	for i, x := range s {
		if !x.at.Before(t) {
			return i
		}
	}
	return len(s) - 1
}

// driver moves the fake clock only while the collector's worker and its
// checkpoint loop both wait on it and no API call is in flight, so that
// the simulator sees each call at the time the pacer released it.
type driver struct {
	fake *clock.Fake
	tr   *inflightTransport
}

// advanceTo fires every timer due up to t, one deadline at a time.
func (d *driver) advanceTo(t time.Time) error {
	for {
		if err := d.quiet(); err != nil {
			return err
		}
		next, ok := d.fake.NextDeadline()
		if !ok || next.After(t) {
			break
		}
		d.fake.Set(next)
	}
	d.fake.Set(t)
	return d.quiet()
}

// quiet waits until two timers are pending and no call is in flight, and
// stays so for a millisecond (a goroutine just woken by Offer may not have
// dropped its old timer yet).
func (d *driver) quiet() error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		w := d.fake.Waiters()
		if w >= 2 && d.tr.inflight.Load() == 0 {
			time.Sleep(time.Millisecond)
			if d.fake.Waiters() == w && d.tr.inflight.Load() == 0 {
				return nil
			}
			continue
		}
		time.Sleep(50 * time.Microsecond)
	}
	return fmt.Errorf("fidelity: the collector did not settle within 30 s (%d timers, %d calls in flight)", d.fake.Waiters(), d.tr.inflight.Load())
}

// inflightTransport counts the API requests in flight.
type inflightTransport struct {
	base     http.RoundTripper
	inflight atomic.Int64
}

func (t *inflightTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.inflight.Add(1)
	defer t.inflight.Add(-1) // the simulator has read its clock once the reply's headers are back
	return t.base.RoundTrip(r)
}

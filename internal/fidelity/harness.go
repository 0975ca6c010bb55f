// Package fidelity measures what the exporter is for: how soon the shipped
// alert rules page after a vendor starts failing, and how often they page
// for nothing. It runs the real pipeline — the file-source sampling path,
// the webhook's handler for Tencent's push callbacks, the ledger, the
// scheduler and the API client — against the simulator, in simulated time,
// at 1 call/s; scrapes /metrics every 15 simulated seconds into an
// in-process TSDB, and evaluates examples/prometheus/alerts.yml with
// Prometheus's own rule engine (promeval). Weeks of traffic take minutes.
//
// It links github.com/prometheus/prometheus; the exporter binary does not
// (promeval's tests check that).
package fidelity

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"

	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/exposition"
	"github.com/timpush/timpush_exporter/internal/fidelity/promeval"
	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/scheduler"
	"github.com/timpush/timpush_exporter/internal/simulator"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

const (
	appName    = "prod"
	sdkAppID   = 1400000001
	identifier = "administrator"
	secretKey  = "fidelity-harness-key"
	// Huawei is the PushPlatform the scenarios step.
	Huawei = 3
)

// Step is a change of one vendor's failure rate at one stage.
type Step struct {
	At       time.Duration // after the start
	Platform int
	Stage    string // "channel" or "device"
	To       float64
}

// Scenario is one simulated run.
type Scenario struct {
	Name      string
	Duration  time.Duration
	Step      *Step   // nil: none
	Base      Base    // the rates before any step
	Callbacks bool    // Tencent's push callback is configured (Push.OfflinePush on /webhook/tencent)
	Baseline  bool    // the scheduler of earlier versions (OwedClicks), for the "before" figures
	Seed      int64   // of the simulator and of the arrivals
	StartHour int     // local hour (Asia/Shanghai) the run starts at
	DayRate   float64 // PushIDs per second by day (08:00–22:00); default 20
	NightRate float64 // by night; default DayRate / 10
}

// Base is the steady failure rates of the stepped vendor.
type Base struct {
	Channel, Device float64
}

// Options are what every scenario shares.
type Options struct {
	RuleFiles []string
	Progress  func(format string, args ...any) // may be nil
}

// Result is what a scenario measured.
type Result struct {
	Scenario Scenario
	// FiredAfter is, per alert, the time from the step to the first time
	// it fired for the stepped platform; absent if it did not.
	FiredAfter map[string]time.Duration
	// FalsePages counts, per alert, the times it started firing other than
	// for the stepped platform after the step.
	FalsePages map[string]int
	// Calls are the API calls by purpose; Yielding the trace queries that
	// counted a new stage outcome, by purpose.
	Calls, Yielding map[string]float64
	OverLimit       int           // calls the simulator counted over its limit
	Took            time.Duration // wall-clock time of the run
}

// Run runs one scenario.
func Run(sc Scenario, o Options) (*Result, error) {
	if sc.DayRate == 0 {
		sc.DayRate = 20
	}
	if sc.NightRate == 0 {
		sc.NightRate = sc.DayRate / 10
	}
	began := time.Now()
	r, err := newRun(sc, o)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if err := r.loop(); err != nil {
		return nil, err
	}
	res := r.result()
	res.Took = time.Since(began)
	return res, nil
}

// run is one scenario in progress.
type run struct {
	sc     Scenario
	o      Options
	clock  *clock.Fake
	start  time.Time
	rng    *rand.Rand
	sim    *simulator.Simulator
	ledger *ledger.Ledger
	sched  *scheduler.Scheduler
	reg    *prometheus.Registry
	page   http.Handler // /metrics
	hook   http.Handler // the webhook's routes
	eval   *promeval.Evaluator
	events eventQueue

	fired      map[string]time.Duration
	falsePages map[string]int
	// scrapeURL asks /metrics for the families the rules read: the others
	// (latency histograms, process metrics) cost ingest time and change no
	// rule's result.
	scrapeURL string
}

var shanghai = time.FixedZone("CST", 8*3600)

func newRun(sc Scenario, o Options) (*run, error) {
	// Simulated time starts on a whole second; traces' times are whole seconds.
	day := time.Now().In(shanghai).Truncate(24 * time.Hour)
	start := time.Date(day.Year(), day.Month(), day.Day(), sc.StartHour, 0, 0, 0, shanghai)
	r := &run{sc: sc, o: o, clock: clock.NewFake(start), start: start,
		rng: rand.New(rand.NewPCG(uint64(sc.Seed), 0x5eed)), fired: map[string]time.Duration{}, falsePages: map[string]int{}}
	r.sim = simulator.New(simulator.Config{
		Apps:      []simulator.App{{SDKAppID: sdkAppID, Identifier: identifier, SecretKey: secretKey}},
		RateLimit: 1, Clock: r.clock, UserSigClock: clock.Real{}, Seed: sc.Seed, Stateless: true,
		ChannelFailure: map[int]float64{Huawei: sc.Base.Channel},
		DeviceFailure:  map[int]float64{Huawei: sc.Base.Device},
	})
	r.ledger = ledger.New(ledger.Options{Clock: r.clock})
	r.sched = scheduler.New(r.ledger, scheduler.Options{Clock: r.clock, OwedClicks: sc.Baseline})
	r.reg = prometheus.NewRegistry()
	client, err := timapi.New(timapi.Options{SDKAppID: sdkAppID, Identifier: identifier, SecretKey: secretKey,
		BaseURL: "http://simulator", HTTPClient: &http.Client{Transport: handlerTransport{r.sim.Handler()}},
		Limiter: noLimit{}, Clock: r.clock, App: appName, Metrics: timapi.NewMetrics(r.reg)})
	if err != nil {
		return nil, err
	}
	r.sched.SetApps([]scheduler.App{{Name: appName, AutoSample: true, RateLimit: 1, Tracer: client,
		Ledger: ledger.AppConfig{QueryDelay: time.Minute, RequeryAfter: []time.Duration{5 * time.Minute, 30 * time.Minute}, MaxPending: 100_000}}})
	coll := collector.New(r.ledger, r.sched)
	r.reg.MustRegister(coll)
	r.page = exposition.Handler(r.reg, coll, exposition.HandlerOpts{})
	if r.hook, err = newWebhook(r.ledger, r.clock); err != nil {
		return nil, err
	}
	r.eval, err = promeval.New(promeval.Options{RuleFiles: o.RuleFiles, ServerOffsets: true, OnTransition: r.transition,
		Retention: 25 * time.Hour}) // the callback rule compares with a day's baseline
	if err != nil {
		return nil, err
	}
	if r.scrapeURL, err = scrapeURL(o.RuleFiles); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *run) close() { r.eval.Close() }

const (
	scrapeEvery = 15 * time.Second
	tickEvery   = time.Second
)

// loop simulates the scenario second by second: arrivals, callbacks due, at
// most one API call (rate_limit 1), and every 15 s a checkpoint (what a
// scrape sees), a scrape and the rule evaluations due.
func (r *run) loop() error {
	ctx := context.Background()
	end := r.start.Add(r.sc.Duration)
	var nextCall time.Time
	for t := r.start; t.Before(end); t = t.Add(tickEvery) {
		r.clock.Set(t)
		if s := r.sc.Step; s != nil && t.Equal(r.start.Add(s.At)) {
			r.step(*s)
		}
		r.arrive(t)
		if err := r.deliver(t); err != nil {
			return err
		}
		if !t.Before(nextCall) {
			if next, called := r.sched.Step(ctx, appName); called {
				nextCall = t.Add(tickEvery)
			} else if !next.IsZero() && next.After(t) {
				nextCall = next.Truncate(tickEvery)
			}
		}
		r.sched.Tune()
		if t.Sub(r.start)%scrapeEvery == 0 {
			if err := r.scrape(t); err != nil {
				return err
			}
		}
		if r.o.Progress != nil && t.Sub(r.start)%(24*time.Hour) == 0 && t != r.start {
			r.o.Progress("%s: day %d simulated", r.sc.Name, int(t.Sub(r.start)/(24*time.Hour)))
		}
	}
	return nil
}

func (r *run) step(s Step) {
	switch s.Stage {
	case "channel":
		r.sim.SetChannelFailure(s.Platform, s.To)
	case "device":
		r.sim.SetDeviceFailure(s.Platform, s.To)
	}
}

// rate is the PushIDs per second at t: DayRate from 08:00 to 22:00 local
// time, NightRate otherwise, with an hour's linear ramp at each change.
func (r *run) rate(t time.Time) float64 {
	h := float64(t.In(shanghai).Hour()) + float64(t.Minute())/60
	switch {
	case h >= 8 && h < 9:
		return r.sc.NightRate + (h-8)*(r.sc.DayRate-r.sc.NightRate)
	case h >= 9 && h < 21:
		return r.sc.DayRate
	case h >= 21 && h < 22:
		return r.sc.DayRate - (h-21)*(r.sc.DayRate-r.sc.NightRate)
	}
	return r.sc.NightRate
}

// arrive makes this second's pushes and hands their PushIDs to the ledger
// as a file source does; with callbacks, their events are queued for
// delivery.
func (r *run) arrive(t time.Time) {
	n := poisson(r.rng, r.rate(t))
	if n == 0 {
		return
	}
	ids := make([]pushid.ID, n)
	for i := range ids {
		id := r.sim.NewPush(sdkAppID)
		ids[i] = pushid.ID{App: appName, PushID: id, Source: pushid.SourceFile, Seen: t}
		if r.sc.Callbacks {
			r.events.add(r.sim.PushEvents(sdkAppID, id)...)
		}
	}
	kept, received := source.Sample(r.ledger, ids)
	r.ledger.Offer(source.Batch{IDs: kept, Received: received})
}

// deliver posts the callback events due by t to the webhook, at most 100
// per request, as Tencent does.
func (r *run) deliver(t time.Time) error {
	due := r.events.due(t)
	for len(due) > 0 {
		n := min(len(due), simulator.MaxCallbackEvents)
		q := simulator.CallbackQuery(sdkAppID, "", t)
		req := httptest.NewRequest(http.MethodPost, "/webhook/tencent?"+q.Encode(), bytesReader(simulator.CallbackBody(due[:n])))
		rec := httptest.NewRecorder()
		r.hook.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("webhook answered %d: %s", rec.Code, rec.Body)
		}
		due = due[n:]
	}
	return nil
}

// scrape checkpoints (the served values are the saved ones), scrapes
// /metrics as Prometheus does, and evaluates the rules due.
func (r *run) scrape(t time.Time) error {
	if err := r.ledger.Checkpoint(); err != nil {
		return err
	}
	req := httptest.NewRequest(http.MethodGet, r.scrapeURL, nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	rec := httptest.NewRecorder()
	r.page.ServeHTTP(rec, req)
	target := labels.FromStrings("job", "timpush_exporter", "instance", "timpush-exporter:9846")
	if err := r.eval.Scrape(t, target, rec.Body.Bytes(), rec.Header().Get("Content-Type")); err != nil {
		return err
	}
	return r.eval.Advance(t)
}

// transition records pages: the first firing for the stepped platform after
// the step, and every other start of firing as a false page.
func (r *run) transition(tr promeval.Transition) {
	if tr.To != rules.StateFiring {
		return
	}
	name := tr.Alert.Name
	if s := r.sc.Step; s != nil && !tr.At.Before(r.start.Add(s.At)) && tr.Alert.Labels.Get("platform") == platformName(s.Platform) {
		if _, seen := r.fired[name]; !seen {
			r.fired[name] = tr.At.Sub(r.start.Add(s.At))
		}
		return
	}
	r.falsePages[name]++
	if r.o.Progress != nil {
		r.o.Progress("%s: false page at %s: %s %s", r.sc.Name, tr.At.Sub(r.start), name, tr.Alert.Labels)
	}
}

func (r *run) result() *Result {
	res := &Result{Scenario: r.sc, FiredAfter: r.fired, FalsePages: r.falsePages,
		Calls:     gather(r.reg, "timpush_exporter_api_calls_total", "purpose"),
		Yielding:  gather(r.reg, "timpush_exporter_queries_with_outcomes_total", "purpose"),
		OverLimit: r.sim.Stats(sdkAppID).OverLimit}
	return res
}

func platformName(p int) string { return timapi.PlatformName(p) }

// poisson draws a Poisson variate of mean m (Knuth's method; m is small).
func poisson(rng *rand.Rand, m float64) int {
	if m <= 0 {
		return 0
	}
	l, k, p := math.Exp(-m), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

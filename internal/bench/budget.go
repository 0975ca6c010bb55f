package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pacer"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/simulator"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Benchmark 3, budget use: a standing backlog of due PushIDs against the
// simulator, in real time, through the real collector, client and pacer.
// The rate is taken from the arrival times of the calls at the simulator
// (first to last arrival in the measured window), so it has no ±1 call
// rounding; the simulator itself counts calls over its limit.

const (
	simAppID    = 1400000001
	simAdmin    = "administrator"
	simKey      = "bench-secret-key-0123456789abcdef"
	benchAppTag = "bench"
)

func runBudget(o *options) ([]row, error) {
	warm, dur := 5*time.Second, 2*time.Minute
	if o.quick {
		warm, dur = 500*time.Millisecond, 2500*time.Millisecond
	}
	var rows []row
	for _, rl := range []float64{1, 20} {
		r, err := budgetRun(o, rl, warm, dur)
		if err != nil {
			return rows, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func budgetRun(o *options, rl float64, warm, dur time.Duration) (row, error) {
	sim := simulator.New(simulator.Config{
		Apps:      []simulator.App{{SDKAppID: simAppID, Identifier: simAdmin, SecretKey: simKey}},
		RateLimit: rl, Seed: 1,
	})
	rec := &arrivalRecorder{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return row{}, err
	}
	srv := &http.Server{Handler: rec.wrap(sim.Handler()), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ErrServerClosed at the end
	defer srv.Close()

	st, _, err := store.Open(filepath.Join(o.tmp, fmt.Sprintf("budget-%g", rl)), store.Options{})
	if err != nil {
		return row{}, err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	c := collector.New(collector.Options{Store: st}, reg)
	client, err := timapi.New(timapi.Options{SDKAppID: simAppID, Identifier: simAdmin, SecretKey: simKey,
		BaseURL: "http://" + ln.Addr().String(), Limiter: pacer.New(rl, clock.Real{}), Metrics: timapi.NewMetrics(reg), App: benchAppTag})
	if err != nil {
		return row{}, err
	}
	c.SetApps([]collector.App{{Name: benchAppTag, SampleRatio: 1, RequeryAfter: []time.Duration{5 * time.Minute, 30 * time.Minute},
		MaxPending: 100_000, RateLimit: rl, Tracer: client}})
	if err := c.Restore(); err != nil {
		return row{}, err
	}
	// The backlog: more pushes, all due at once, than the run can query.
	n := int(rl*(warm+dur).Seconds()*1.3) + 20
	ids := make([]pushid.ID, n)
	for i := range ids {
		ids[i] = pushid.ID{App: benchAppTag, PushID: sim.NewPush(simAppID), Source: pushid.SourceFile, Seen: time.Now()}
	}
	offer(c, ids)

	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	start := time.Now()
	go func() { runDone <- c.Run(ctx) }()
	time.Sleep(warm + dur + 200*time.Millisecond)
	pending := gatherSum(reg, "timpush_exporter_pending_pushids", nil)
	cancel()
	if err := <-runDone; err != nil {
		return row{}, err
	}
	stats := sim.Stats(simAppID)

	times := rec.within(start.Add(warm), start.Add(warm+dur))
	r := row{
		bench:  fmt.Sprintf("budget, rate_limit %g, standing backlog, %s real time", rl, dur),
		target: "≥ 0.99 of rate_limit; 0 over the limit",
	}
	if len(times) < 2 {
		return r, fmt.Errorf("rate_limit %g: only %d calls in the measured window", rl, len(times))
	}
	span := times[len(times)-1].Sub(times[0])
	rate := float64(len(times)-1) / span.Seconds()
	var gaps []time.Duration
	for i := 1; i < len(times); i++ {
		gaps = append(gaps, times[i].Sub(times[i-1]))
	}
	r.figure = fmt.Sprintf("%.3f calls/s over %.1f s = %.4f of rate_limit; gap between calls min %s, median %s, p99 %s, max %s (1/rate_limit = %s); %d over the limit (simulator), %d calls in all, %.0f still pending",
		rate, span.Seconds(), rate/rl, ms(percentile(gaps, 0)), ms(percentile(gaps, 50)), ms(percentile(gaps, 99)), ms(percentile(gaps, 100)),
		ms(time.Duration(float64(time.Second)/rl)), stats.OverLimit, stats.Calls, pending)
	r.met = verdict(rate/rl >= 0.99 && stats.OverLimit == 0 && pending > 0)
	logf("budget rate_limit %g: %s", rl, r.figure)
	return r, nil
}

// arrivalRecorder notes when each trace call reaches the simulator.
type arrivalRecorder struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *arrivalRecorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "normal_push_trace") {
			a.mu.Lock()
			a.times = append(a.times, time.Now())
			a.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// within returns the arrivals in [from, until].
func (a *arrivalRecorder) within(from, until time.Time) []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []time.Time
	for _, t := range a.times {
		if !t.Before(from) && !t.After(until) {
			out = append(out, t)
		}
	}
	return out
}

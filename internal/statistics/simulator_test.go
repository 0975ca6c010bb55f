package statistics

import (
	"context"
	"math"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pacer"
	"github.com/timpush/timpush_exporter/internal/simulator"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

func startSimulator(t *testing.T, clk clock.Clock, rateLimit float64) (*simulator.Simulator, string) {
	t.Helper()
	sim := simulator.New(simulator.Config{
		Apps:      []simulator.App{{SDKAppID: testAppID, Identifier: testAdmin, SecretKey: testKey}},
		RateLimit: rateLimit, Clock: clk, Seed: 7,
	})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, url
}

// The gauges equal what the simulator answers for the same window at the
// same time, realistic vendor error texts included.
func TestPollerAgainstSimulator(t *testing.T) {
	// GenUserSig stamps the wall clock, so the fake clock starts near it.
	fake := clock.NewFake(time.Now().Truncate(time.Second))
	sim, url := startSimulator(t, fake, math.Inf(1))
	for range 400 {
		sim.NewPush(testAppID)
	}
	fake.Advance(2 * time.Hour) // every stage visible
	client := newClient(t, url, noLimit{}, fake)
	h := newHarness(t)
	h.clock = fake
	p := h.poller("sim", client, testInterval)
	h.coll.Set([]*Poller{p})
	h.run(p)
	fake.BlockUntil(1)

	end := fake.Now()
	s, err := client.Statistics(context.Background(), end.Add(-Window), end)
	if err != nil {
		t.Fatal(err)
	}
	l, err := client.Loss(context.Background(), end.Add(-Window), end)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts, wantInfo := lossPoints(l)
	st := p.snapshot()
	if got, want := st.apis[apiStatistics].gauges, statisticsPoints(s); !reflect.DeepEqual(got, want) {
		t.Errorf("statistics series =\n%v\nwant\n%v", got, want)
	}
	if got := st.apis[apiLoss].gauges; !reflect.DeepEqual(got, wantCounts) {
		t.Errorf("loss series =\n%v\nwant\n%v", got, wantCounts)
	}
	if got := st.apis[apiLoss].info; !reflect.DeepEqual(got, wantInfo) {
		t.Errorf("info series =\n%v\nwant\n%v", got, wantInfo)
	}
	if s.TotalCount == 0 || len(s.PlatformStatistics) < 5 || len(wantCounts) < 10 {
		t.Errorf("the simulator produced too little to compare: %+v, %d loss series", s, len(wantCounts))
	}
	if problems, err := testutil.GatherAndLint(h.reg); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// A trace worker and a poller sharing the app's pacer never exceed the
// simulator's 1 call/s, however their calls interleave. Time is a fake
// clock moved only when both goroutines wait on it.
func TestSharedPacerKeepsTheLimit(t *testing.T) {
	fake := clock.NewFake(time.Now().Truncate(time.Second))
	sim, url := startSimulator(t, fake, 1)
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = sim.NewPush(testAppID)
	}
	client, err := timapi.New(timapi.Options{
		SDKAppID: testAppID, Identifier: testAdmin, SecretKey: testKey, BaseURL: url,
		Limiter: pacer.New(1, fake), Clock: fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	// An interval of a few seconds, far below the configurable minimum,
	// makes the poller's calls land among the trace queries all the time.
	p := NewPoller(Options{App: "sim", Client: client, Interval: 3 * time.Second, Clock: fake})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var traces, traceErrs atomic.Int64
	wg.Add(2)
	go func() { defer wg.Done(); p.Run(ctx) }()
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := client.Trace(ctx, ids[i%len(ids)]); err != nil && ctx.Err() == nil {
				traceErrs.Add(1)
			}
			traces.Add(1)
		}
	}()
	const polls = 20
	for step := 0; ; step++ {
		fake.BlockUntil(2) // both wait: on the pacer or the poll timer
		if st := p.snapshot(); st.apis[apiLoss].ok >= polls {
			break
		}
		if step > 10000 {
			t.Fatalf("only %d polls after %d clock steps", p.snapshot().apis[apiLoss].ok, step)
		}
		next, _ := fake.NextDeadline()
		fake.Set(next)
	}
	cancel()
	wg.Wait()

	stats := sim.Stats(testAppID)
	st := p.snapshot()
	if stats.OverLimit != 0 || stats.RateLimitedReplies != 0 {
		t.Errorf("%d calls over the rate limit (%d 60007 replies)", stats.OverLimit, stats.RateLimitedReplies)
	}
	if traceErrs.Load() != 0 || st.apis[apiStatistics].failed != 0 || st.apis[apiLoss].failed != 0 {
		t.Errorf("failures: %d traces, %d statistics, %d loss", traceErrs.Load(), st.apis[apiStatistics].failed, st.apis[apiLoss].failed)
	}
	if st.apis[apiStatistics].ok < polls || traces.Load() < 2*polls {
		t.Errorf("%d statistics polls and %d traces: the two did not interleave", st.apis[apiStatistics].ok, traces.Load())
	}
	t.Logf("%d calls: %d traces, %d+%d polls", stats.Calls, traces.Load(), st.apis[apiStatistics].ok, st.apis[apiLoss].ok)
}

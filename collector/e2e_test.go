package collector

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pacer"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/simulator"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/taxonomy"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// TestAgainstStrictSimulator feeds several hundred PushIDs through the
// collector, the real client and the pacer into the simulator (which checks
// the UserSig and every parameter, and enforces 1 call/s). Time is a fake
// clock advanced only when every goroutine waits on it, so minutes of
// requeries run in seconds. Faults exercise every retry path.
func TestAgainstStrictSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end; skipped with -short")
	}
	for _, tc := range []struct {
		name   string
		faults simulator.Faults
	}{
		{name: "clean"},
		{name: "faults", faults: simulator.Faults{HTTP502: 0.05, Internal90102: 0.05, CutJSON: 0.05, RateLimitCode: 0.03, UserSigExpired: 0.03}},
	} {
		t.Run(tc.name, func(t *testing.T) { runAgainstSimulator(t, 300, tc.faults) })
	}
}

func runAgainstSimulator(t *testing.T, pushes int, faults simulator.Faults) {
	const appID, key, admin = 1400000001, "s3cr3t-key-for-e2e", "administrator"
	// GenUserSig stamps the wall clock, so the fake clock starts near it.
	fake := clock.NewFake(time.Now().Truncate(time.Second))
	sim := simulator.New(simulator.Config{
		Apps:      []simulator.App{{SDKAppID: appID, Identifier: admin, SecretKey: key}},
		RateLimit: 1, Clock: fake, Seed: 42, Faults: faults,
	})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	st, _, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := New(Options{Clock: fake, Store: st}, prometheus.NewRegistry())
	client, err := timapi.New(timapi.Options{
		SDKAppID: appID, Identifier: admin, SecretKey: key, BaseURL: url,
		Limiter: pacer.New(1, fake), Clock: fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.SetApps([]App{{Name: "e2e", SampleRatio: 1, QueryDelay: 10 * time.Second,
		RequeryAfter: []time.Duration{time.Hour, 3 * time.Hour}, MaxPending: 10000, RateLimit: 1, Tracer: client}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	for i := 0; i < pushes; i++ {
		id := sim.NewPush(appID)
		offer(c, []pushid.ID{{App: "e2e", PushID: id, Source: pushid.SourceFile, Seen: fake.Now()}}, nil)
		if i%3 == 0 { // duplicates are harmless
			offer(c, []pushid.ID{{App: "e2e", PushID: id, Source: pushid.SourceWebhook, Seen: fake.Now()}}, nil)
		}
	}
	// Drive time: whenever the worker and the checkpoint loop both wait on
	// the clock, jump to the next deadline, until nothing is pending.
	for i := 0; ; i++ {
		fake.BlockUntil(2)
		c.mu.Lock()
		pending := c.apps["e2e"].queue.len()
		c.mu.Unlock()
		if pending == 0 {
			break
		}
		if i > 200000 {
			t.Fatalf("still %d pending after %d clock steps", pending, i)
		}
		next, _ := fake.NextDeadline()
		fake.Set(next)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	stats := sim.Stats(appID)
	if stats.OverLimit != 0 {
		t.Errorf("%d calls over the rate limit", stats.OverLimit)
	}
	want := map[seriesKey]float64{}
	for _, o := range sim.Revealed() {
		platform := timapi.PlatformName(o.Platform)
		want[seriesKey{metric: mStage, app: "e2e", platform: platform, stage: o.Stage}]++
		if o.Status == int(timapi.StatusFailure) {
			want[seriesKey{metric: mFailures, app: "e2e", platform: platform, stage: o.Stage, extra: strconv.Itoa(o.ErrorCode)}]++
		}
	}
	got := map[seriesKey]float64{}
	vocabulary := map[string]bool{}
	for _, r := range taxonomy.Reasons() {
		vocabulary[r] = true
	}
	for k, v := range c.served() {
		if k.metric == mFailures {
			if !vocabulary[k.reason] {
				t.Errorf("%+v: reason outside the vocabulary", k)
			}
			k.reason = "" // compared with the simulator per error code
		}
		if k.metric == mStage || k.metric == mFailures {
			got[k] += v
		}
	}
	if len(want) == 0 {
		t.Fatal("the simulator revealed nothing")
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("metric %d %s/%s %s: counted %v, served %v", k.metric, k.platform, k.stage, k.extra, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%+v counted %v, never served", k, v)
			}
		}
	}
	device := 0.0
	for k, v := range want {
		if k.metric == mStage && k.stage == "device" {
			device += v
		}
	}
	if device == 0 {
		t.Error("no device stage was revealed: requeries did not pick up late stages")
	}
	t.Logf("%d pushes, %d calls (%d faults injected), %d stage outcomes, %v device outcomes",
		pushes, stats.Calls, stats.FaultsInjected, len(sim.Revealed()), device)
}

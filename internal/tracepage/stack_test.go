package tracepage

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pacer"
	"github.com/timpush/timpush_exporter/internal/simulator"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

const (
	simApp   = int64(1400000001)
	simAdmin = "administrator"
	simKey   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// stack is the real path of a page query: simulator, HTTP, timapi client,
// pacer.
type stack struct {
	sim   *simulator.Simulator
	clock *clock.Fake
	url   string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	// Near the wall clock: UserSigs are stamped with it and the simulator
	// checks them against its own (fake) clock.
	fc := clock.NewFake(time.Now().Truncate(time.Second))
	sim := simulator.New(simulator.Config{
		Apps:      []simulator.App{{SDKAppID: simApp, Identifier: simAdmin, SecretKey: simKey}},
		RateLimit: math.Inf(1), // pacing is the pacer's job; the fake clock does not move between calls
		Clock:     fc,
		Seed:      7,
		// Failures on every platform, so a few hundred pushes surely hold
		// one with several instances, a failure and a click.
		DeviceFailure: map[int]float64{1: 0.5, 2: 0.5, 3: 0.5, 4: 0.5, 5: 0.5, 6: 0.5, 7: 0.5, 8: 0.5},
	})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return &stack{sim: sim, clock: fc, url: srv.URL}
}

// noLimit lets every call through at once: for tests not about pacing
// (a new pacer waits a second before its first call).
type noLimit struct{}

func (noLimit) Wait(context.Context) (func(sent, replied time.Time), error) {
	return func(time.Time, time.Time) {}, nil
}

// client is the page's client as apps.go builds it: one attempt, on the
// app's pacer.
func (s *stack) client(t *testing.T, p timapi.Limiter, key string) *timapi.Client {
	t.Helper()
	c, err := timapi.New(timapi.Options{
		SDKAppID: simApp, Identifier: simAdmin, SecretKey: key, BaseURL: s.url,
		Limiter: p, MaxAttempts: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *stack) handler(c Tracer, wait time.Duration) http.Handler {
	return New(Options{
		Lookup: func(app string) (Tracer, *time.Location, bool) {
			return c, time.FixedZone("CST", 8*3600), app == "demo"
		},
		Apps: func() []string { return []string{"demo"} },
		Wait: wait,
	})
}

// interesting reports whether tr has several instances, a failure and a
// click. The click must be on an instance without a failure (say, of its
// online route), since the page then sums that instance up as "clicked".
func interesting(tr *timapi.Trace) (fail, click bool) {
	for _, in := range tr.Instances {
		failed := false
		for _, st := range in.Stages {
			failed = failed || st.Status == timapi.StatusFailure
		}
		fail = fail || failed
		click = click || (!failed && in.Stages[timapi.StageClick].Status == timapi.StatusSuccess)
	}
	return fail && len(tr.Instances) > 1, click && len(tr.Instances) > 1
}

// TestThroughSimulator renders a real trace: pushes registered with the
// simulator, queried through timapi and the pacer, found again on the page.
func TestThroughSimulator(t *testing.T) {
	s := newStack(t)
	c := s.client(t, noLimit{}, simKey)
	ids := make([]string, 600)
	for i := range ids {
		ids[i] = s.sim.NewPush(simApp)
	}
	s.clock.Advance(5 * time.Minute) // every stage that will ever be reported is now
	ctx := context.Background()
	var id string
	var want *timapi.Trace
	for _, candidate := range ids {
		tr, err := c.Trace(ctx, candidate)
		if err != nil {
			t.Fatal(err)
		}
		if f, k := interesting(tr); f && k {
			id, want = candidate, tr
			break
		}
	}
	if want == nil {
		t.Fatal("no push with several instances, a failure and a click among 600")
	}

	h := s.handler(c, time.Second)
	r := get(t, h, q("demo", id), false)
	if r.status != http.StatusOK {
		t.Fatalf("status %d\n%s", r.status, r.body)
	}
	mustContain(t, r.body, "Trace of <code>"+id+"</code>", fmt.Sprintf("%d instances", len(want.Instances)),
		`<tr class="failure">`, "clicked", "failed at")
	for _, in := range want.Instances {
		mustContain(t, r.body, in.InstanceID, timapi.PlatformName(in.PushPlatform), in.System)
		for _, st := range in.Stages {
			if st.Status == timapi.StatusFailure {
				mustContain(t, r.body, fmt.Sprint(st.ErrorCode), st.ErrorInfo)
			}
		}
	}

	r = get(t, h, q("demo", id), true)
	var got Result
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	if got.PushID != id || len(got.Instances) != len(want.Instances) {
		t.Fatalf("JSON: push_id %q with %d instances, want %q with %d", got.PushID, len(got.Instances), id, len(want.Instances))
	}
	for i, in := range got.Instances {
		w := want.Instances[i]
		if in.InstanceID != w.InstanceID || in.Platform != timapi.PlatformName(w.PushPlatform) || len(in.Stages) != int(timapi.NumStages) {
			t.Errorf("instance %d = %+v, want %s on %s", i, in, w.InstanceID, timapi.PlatformName(w.PushPlatform))
		}
		for j, st := range in.Stages {
			ws := w.Stages[j]
			if st.Stage != timapi.Stage(j).String() || (st.Status == StatusFailure) != (ws.Status == timapi.StatusFailure) ||
				st.ErrorCode != ws.ErrorCode || (st.EventTime != nil) != ws.Reported() {
				t.Errorf("instance %d stage %d = %+v, want %+v", i, j, st, ws)
			}
		}
	}

	// An unknown PushID: Tencent (and the simulator) answer with no instance.
	r = get(t, h, q("demo", "48374_2837546_1557481126"), false)
	if r.status != http.StatusOK {
		t.Errorf("unknown PushID: status %d", r.status)
	}
	mustContain(t, r.body, "No trace for this PushID")
	if st := s.sim.Stats(simApp); st.OverLimit != 0 || st.AuthFailures != 0 {
		t.Errorf("simulator stats %+v", st)
	}
}

// TestStackErrors: a wrong secret key shows as 70009 with its meaning, and a
// pacer whose next slot is beyond Wait gives 503 without calling the API.
func TestStackErrors(t *testing.T) {
	s := newStack(t)
	id := s.sim.NewPush(simApp)
	wrongKey := strings.Repeat("f", 64)

	r := get(t, s.handler(s.client(t, noLimit{}, wrongKey), time.Second), q("demo", id), true)
	var got struct {
		Error Problem `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusBadGateway || got.Error.ErrorCode != 70009 || got.Error.Meaning != "UserSig verification failed" ||
		!strings.Contains(got.Error.Hint, "secret_key") {
		t.Errorf("wrong key: status %d, error %+v", r.status, got.Error)
	}
	mustNotContain(t, r.body, wrongKey, "usersig=")

	// A new pacer's bucket starts empty: at 0.1 call/s the first slot is
	// 10 s away, far beyond a 50 ms Wait.
	before := s.sim.Stats(simApp).Calls
	slow := pacer.New(0.1, clock.Real{})
	start := time.Now()
	r = get(t, s.handler(s.client(t, slow, simKey), 50*time.Millisecond), q("demo", id), false)
	if r.status != http.StatusServiceUnavailable || time.Since(start) > 5*time.Second {
		t.Errorf("busy budget: status %d after %v; want 503 at once", r.status, time.Since(start))
	}
	mustContain(t, r.body, "Budget busy, try again in a few seconds")
	if after := s.sim.Stats(simApp).Calls; after != before {
		t.Errorf("the API was called %d times with no budget", after-before)
	}
	// The abandoned wait gave its slot back.
	if d := slow.Delay(); d > 10*time.Second+time.Second {
		t.Errorf("pacer delay %v after a cancelled wait", d)
	}
}

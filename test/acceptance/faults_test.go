package acceptance

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/simulator"
)

// TestAPIFaults runs the binary against a simulator that injects every
// fault it knows at a few per cent of calls each: gateway 502s, internal
// errors (90102), 4 s stalls, replies cut off mid-JSON, rate-limit codes
// although the limit was kept (60007) and an expired UserSig (70001).
// Every PushID must still be counted exactly once, the stage counters must
// equal the traces served (a cut reply reveals nothing), and no call may
// exceed the limit, retries included.
func TestAPIFaults(t *testing.T) {
	skipShort(t)
	t.Parallel()
	// The simulator draws faults per call, in call order, from its seeded
	// RNG, so the n-th call meets the same faults in every run: with this
	// seed each kind occurs within the first 40 calls (a run makes ~125).
	const seed = 11
	t.Logf("simulator seed %d", seed)
	env := newEnv(t, seed, simulator.Faults{
		HTTP502: 0.04, Internal90102: 0.04, Stall: 0.04, CutJSON: 0.04, RateLimitCode: 0.04, UserSigExpired: 0.04,
		StallFor: 4 * time.Second,
	})
	env.exp.startReady()
	led := newLedger()
	h := env.hooks()
	log := createLog(t, filepath.Join(env.logDir, "push.log"))
	for i := range 20 {
		id := env.sim.NewPush(appID)
		log.write(idLine(i, id))
		led.deliver(pushid.SourceFile, id)
		id2 := env.sim.NewPush(appID)
		code, err := h.pushIDs(context.Background(), h.bearerToken, "application/json", jsonIDs(id2))
		if err != nil || code != http.StatusOK {
			t.Fatalf("push-ids: status %d, err %v", code, err)
		}
		led.deliver(pushid.SourceWebhook, id2)
		time.Sleep(300 * time.Millisecond)
	}
	good := led.goodSet()
	// Stalls hold the app's single query loop 4 s each, and a PushID whose
	// call fails after every retry is tried again 30 s later.
	s := settle(t, env.exp, len(good), 2*lastQuery+120*time.Second)
	checkSampled(t, s, len(good))
	compareWithServed(t, s, env.sim, good)
	env.checkRateLimit()

	// The exporter saw each kind of fault.
	errs := s.family("timpush_exporter_api_errors_total")
	t.Logf("API errors seen by the exporter: %v", errs)
	for _, code := range []string{"http_502", "90102", "decode", "60007", "70001"} {
		if errs.get("timpush_exporter_api_errors_total", "app", appName, "error_code", code) == 0 {
			t.Errorf("no API error %s seen: the fault was not exercised", code)
		}
	}
	slow := s.get("timpush_exporter_trace_query_duration_seconds_count", "app", appName) -
		s.get("timpush_exporter_trace_query_duration_seconds_bucket", "app", appName, "le", "2.5")
	if slow == 0 {
		t.Error("no call took over 2.5 s: no stall was exercised")
	}
	if st := env.sim.Stats(appID); st.FaultsInjected == 0 {
		t.Error("the simulator injected no fault")
	}
	if strings.Contains(env.exp.log(), secretKey) {
		t.Error("the secret key appears in the exporter's log")
	}
	env.exp.stop()
}

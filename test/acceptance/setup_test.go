package acceptance

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/simulator"
)

// The app every test configures. The simulator is strict: it checks the
// UserSig made from secretKey and enforces rateLimit per second on arrival.
const (
	appName    = "acc"
	appID      = 1400000777
	admin      = "administrator"
	secretKey  = "acceptance-secret-key-0123456789abcdef"
	rateLimit  = 5
	queryDelay = "1s"
	requery    = "[20s, 40s]"
	// lastQuery is requery's last offset: a PushID seen at t is finished by
	// t+lastQuery plus the queue's backlog.
	lastQuery = 40 * time.Second
	// idRegex is the log format: the ID follows msg_id=.
	idRegex = `msg_id=(?P<push_id>[0-9A-Za-z_-]+)`
)

// env is one test's world: the simulator, a directory with the config,
// secrets, log files and state, and the exporter pointed at all of it.
type env struct {
	t             *testing.T
	dir           string
	logDir        string // the file source's glob is logDir/push*.log
	sim           *simulator.Simulator
	callbackToken string
	bearerToken   string
	exp           *exporter
	start         time.Time

	mu       sync.Mutex
	arrivals []time.Time // of every API call, as the simulator's handler is entered
	events   []event     // kills and restarts, for the report of calls over the limit
}

type event struct {
	at   time.Time
	what string
}

// newEnv starts a simulator (real clock, rate limit equal to the app's) and
// writes a config for an exporter that reads logDir/push*.log and runs both
// webhooks, on a port each run picks anew. The exporter is not started.
func newEnv(t *testing.T, seed int64, faults simulator.Faults) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{
		t:             t,
		dir:           dir,
		logDir:        filepath.Join(dir, "logs"),
		callbackToken: "callback-token-for-acceptance",
		bearerToken:   "bearer-token-for-acceptance",
		start:         time.Now(),
	}
	e.sim = simulator.New(simulator.Config{
		Apps:      []simulator.App{{SDKAppID: appID, Identifier: admin, SecretKey: secretKey}},
		RateLimit: rateLimit,
		Seed:      seed,
		Faults:    faults,
	})
	url := e.serveSimulator()
	if err := os.MkdirAll(e.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string]string{"app.key": secretKey, "callback.token": e.callbackToken, "bearer.token": e.bearerToken} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`apps:
  - name: %s
    sdkappid: %d
    endpoint: %s
    identifier: %s
    secret_key_file: app.key
    rate_limit: %d
    query_delay: %s
    requery_after: %s
sources:
  files:
    - path: logs/push*.log
      app: %s
      format: regex
      regex: '%s'
      start: beginning
  webhook:
    listen_address: 127.0.0.1:0
    tencent_callback_token_file: callback.token
    bearer_token_file: bearer.token
`, appName, appID, url, admin, rateLimit, queryDelay, requery, appName, idRegex)
	cfgPath := filepath.Join(dir, "timpush_exporter.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.exp = newExporter(t, cfgPath, filepath.Join(dir, "data"), true)
	return e
}

// serveSimulator serves the simulator's handler on a loopback port, as
// simulator.Start does, noting when each call arrives: if the simulator
// finds calls over the limit, the report says when they came.
func (e *env) serveSimulator() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	sim := e.sim.Handler()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.mu.Lock()
			e.arrivals = append(e.arrivals, time.Now())
			e.mu.Unlock()
			sim.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	e.t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// note records a kill or restart for the rate limit report.
func (e *env) note(what string) {
	e.mu.Lock()
	e.events = append(e.events, event{time.Now(), what})
	e.mu.Unlock()
}

// fileSource is the value of the file metrics' source label: the glob as
// configured (relative to the config file's directory).
func (e *env) fileSource() string { return filepath.Join(e.dir, "logs/push*.log") }

// checkRateLimit fails the test if the simulator answered any call as over
// the limit, and logs the call statistics.
func (e *env) checkRateLimit() {
	e.t.Helper()
	st := e.sim.Stats(appID)
	e.t.Logf("simulator: %d calls, %d ok, %d faults injected, %d over the limit, %d rate-limit replies, %d auth failures, %d bad requests",
		st.Calls, st.OK, st.FaultsInjected, st.OverLimit, st.RateLimitedReplies, st.AuthFailures, st.BadRequests)
	if st.OverLimit != 0 {
		e.t.Errorf("%d calls exceeded the rate limit of %d/s", st.OverLimit, rateLimit)
		e.reportBursts()
	}
	if st.AuthFailures != 0 || st.BadRequests != 0 {
		e.t.Errorf("the simulator rejected %d calls as unauthenticated and %d as malformed", st.AuthFailures, st.BadRequests)
	}
	if other := e.sim.Stats(0); other.Calls != 0 {
		e.t.Errorf("%d calls with a missing or unknown sdkappid", other.Calls)
	}
}

// reportBursts logs every run of rateLimit+1 calls that arrived within one
// second, with the gaps between them and the kills and restarts near them.
func (e *env) reportBursts() {
	e.mu.Lock()
	defer e.mu.Unlock()
	offset := func(t time.Time) string { return "+" + t.Sub(e.start).Round(time.Millisecond).String() }
	for i := rateLimit; i < len(e.arrivals); i++ {
		first, last := e.arrivals[i-rateLimit], e.arrivals[i]
		if last.Sub(first) > time.Second {
			continue
		}
		var gaps []string
		for j := i - rateLimit + 1; j <= i; j++ {
			gaps = append(gaps, e.arrivals[j].Sub(e.arrivals[j-1]).Round(100*time.Microsecond).String())
		}
		var near []string
		for _, ev := range e.events {
			if ev.at.After(first.Add(-3*time.Second)) && ev.at.Before(last.Add(time.Second)) {
				near = append(near, ev.what+" at "+offset(ev.at))
			}
		}
		e.t.Logf("calls %d-%d arrived within %v, from %s; gaps %v; nearby: %v",
			i-rateLimit+1, i+1, last.Sub(first).Round(100*time.Microsecond), offset(first), gaps, near)
	}
}

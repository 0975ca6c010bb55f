package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/demo"
	"github.com/timpush/timpush_exporter/internal/tracepage"
)

// TestTraceRoute follows a user from the landing page's form to /trace,
// through the server's page client and the demo's simulator.
func TestTraceRoute(t *testing.T) {
	dm, err := demo.Start(clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	reg := prometheus.NewRegistry()
	addrs, systemd, webConfig := []string{"127.0.0.1:0"}, false, ""
	s, err := New(dm.Config, Options{Registry: reg, StoragePath: t.TempDir(), Demo: dm,
		Web: &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &webConfig}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	_, landing := get(t, srv.URL+"/", "")
	for _, want := range []string{`<form action="/trace">`, `name="app"`, `name="push_id"`, `href="/-/ready"`, `href="/trace"`, "DEMO MODE"} {
		if !strings.Contains(landing, want) {
			t.Errorf("landing page lacks %s:\n%s", want, landing)
		}
	}
	if strings.Contains(landing, `method="post"`) {
		t.Error("the landing form posts; /trace reads GET parameters")
	}

	// The form as a browser submits it, the app left empty (one app). One
	// API call only: the demo's simulator is strict about 1 call/s.
	id := dm.Sim.NewPush(dm.Config.Apps[0].SDKAppID)
	form := url.Values{"app": {""}, "push_id": {id}}
	status, body := get(t, srv.URL+"/trace?"+form.Encode(), "application/json")
	var res tracepage.Result
	if err := json.Unmarshal([]byte(body), &res); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, %v in %s", status, err, body)
	}
	if res.App != "demo" || res.PushID != id || res.Instances == nil {
		t.Errorf("JSON result %+v", res)
	}
	// The page's one call is counted as the page's; no worker runs here.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP timpush_exporter_api_calls_total API attempts (retries included) that took a slot of the app's rate budget, by purpose: first, requery, trace_page, statistics or other.
# TYPE timpush_exporter_api_calls_total counter
timpush_exporter_api_calls_total{app="demo",purpose="first"} 0
timpush_exporter_api_calls_total{app="demo",purpose="other"} 0
timpush_exporter_api_calls_total{app="demo",purpose="requery"} 0
timpush_exporter_api_calls_total{app="demo",purpose="statistics"} 0
timpush_exporter_api_calls_total{app="demo",purpose="trace_page"} 1
`), "timpush_exporter_api_calls_total"); err != nil {
		t.Error(err)
	}
	if status, body := get(t, srv.URL+"/trace?app=nope&push_id=x", ""); status != http.StatusNotFound || !strings.Contains(body, "Configured apps: demo") {
		t.Errorf("unknown app: status %d, want 404 naming the apps\n%s", status, body)
	}
}

func get(t *testing.T, url, accept string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

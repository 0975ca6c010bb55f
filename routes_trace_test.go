package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/demo"
	"github.com/timpush/timpush_exporter/internal/tracepage"
)

// TestTraceRoute follows a user from the landing page (its links to health,
// readiness and the trace page, and its form) to /trace,
// through the app builder's page client and the demo's simulator.
func TestTraceRoute(t *testing.T) {
	dm, err := demo.Start(clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	coll := collector.New(collector.Options{}, nil)
	apps := newAppBuilder(coll, log.NewNopLogger())
	if err := apps.apply(dm.Config); err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	h := routes("/metrics", prometheus.NewRegistry(), coll, &staticConfig{cfg: dm.Config}, &ready, true,
		tracepage.New(tracepage.Options{Lookup: apps.pageTracer, Apps: apps.appNames}), log.NewNopLogger())
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, landing := doPage(t, req)
	for _, want := range []string{`<form action="/trace">`, `name="app"`, `name="push_id"`,
		`<a href="/-/ready">`, `<a href="/-/healthy">`, `<a href="/trace">`} {
		if !strings.Contains(landing, want) {
			t.Errorf("landing page lacks %s:\n%s", want, landing)
		}
	}
	if strings.Contains(landing, `method="post"`) {
		t.Error("the landing form posts; /trace reads GET parameters")
	}

	// The form as a browser submits it, the app left empty (one app). One
	// API call only: this test is about the wiring, and the demo's
	// simulator is strict about 1 call/s.
	id := dm.Sim.NewPush(dm.Config.Apps[0].SDKAppID)
	form := url.Values{"app": {""}, "push_id": {id}}
	req, err = http.NewRequest(http.MethodGet, srv.URL+"/trace?"+form.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	status, body := doPage(t, req)
	var res tracepage.Result
	if err := json.Unmarshal([]byte(body), &res); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, %v in %s", status, err, body)
	}
	if res.App != "demo" || res.PushID != id || res.Instances == nil {
		t.Errorf("JSON result %+v", res)
	}

	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/trace?app=nope&push_id=x", nil)
	if status, body := doPage(t, req); status != http.StatusNotFound || !strings.Contains(body, "Configured apps: demo") {
		t.Errorf("unknown app: status %d, want 404 naming the apps\n%s", status, body)
	}
}

func doPage(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
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

package config

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/exportertest"
)

const (
	reloadSecret = "reload-SECRET-value"
	reloadGood   = "apps:\n  - {name: prod, sdkappid: 1, identifier: admin, secret_key: " + reloadSecret + "}\n" +
		"sources: {files: [{path: a.log}]}\n"
	reloadGood2 = "apps:\n  - {name: prod, sdkappid: 1, identifier: admin, secret_key: " + reloadSecret + ", sample_ratio: 0.5}\n" +
		"sources: {files: [{path: a.log}]}\n"
	reloadBad = "apps:\n  - {name: prod, sdkappid: 1, identifier: admin, secret_key: " + reloadSecret + ", sample_ratio: 5}\n"
)

// newTestReloader writes content to a config file, makes a Reloader whose
// clock reads *now, and returns it with its registry, file and log.
func newTestReloader(t *testing.T, content string, now *time.Time) (*Reloader, *prometheus.Registry, string, *exportertest.LogBuffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "timpush_exporter.yml")
	writeFile(t, path, content, 0o600)
	reg := prometheus.NewRegistry()
	logs := &exportertest.LogBuffer{}
	r, err := newReloader(path, reg, log.NewLogfmtLogger(logs), func() time.Time { return *now })
	if err != nil {
		t.Fatal(err)
	}
	return r, reg, path, logs
}

func checkReloadMetrics(t *testing.T, reg *prometheus.Registry, successful int, ts string) {
	t.Helper()
	want := `
# HELP timpush_exporter_config_last_reload_success_timestamp_seconds Unix time of the last successful configuration load or reload.
# TYPE timpush_exporter_config_last_reload_success_timestamp_seconds gauge
timpush_exporter_config_last_reload_success_timestamp_seconds ` + ts + `
# HELP timpush_exporter_config_last_reload_successful Whether the last configuration load or reload attempt was successful (1) or not (0).
# TYPE timpush_exporter_config_last_reload_successful gauge
timpush_exporter_config_last_reload_successful ` + string(rune('0'+successful)) + "\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Errorf("GatherAndLint = %v, %v", problems, err)
	}
}

func TestReloaderSuccessSwaps(t *testing.T) {
	now := time.Unix(1700000000, 0)
	r, reg, path, logs := newTestReloader(t, reloadGood, &now)
	checkReloadMetrics(t, reg, 1, "1.7e+09")
	old := r.Current()

	var applied []string
	for _, name := range []string{"first", "second"} {
		r.OnReload(func(c *Config) error {
			if r.Current() != old {
				t.Errorf("%s subscriber: Current() swapped before every subscriber accepted", name)
			}
			applied = append(applied, name+":"+c.Apps[0].Name)
			return nil
		})
	}
	writeFile(t, path, reloadGood2, 0o600)
	now = now.Add(time.Minute)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := r.Current().Apps[0].SampleRatio; got != 0.5 {
		t.Errorf("after Reload, sample_ratio = %g, want 0.5", got)
	}
	if strings.Join(applied, ",") != "first:prod,second:prod" {
		t.Errorf("subscribers applied %v, want first then second", applied)
	}
	checkReloadMetrics(t, reg, 1, "1.70000006e+09")
	if !strings.Contains(logs.String(), `msg="Reloaded config"`) {
		t.Errorf("log lacks the reload:\n%s", logs)
	}
}

func TestReloaderFailureKeepsRunning(t *testing.T) {
	now := time.Unix(1700000000, 0)
	r, reg, path, logs := newTestReloader(t, reloadGood, &now)
	old := r.Current()
	called := false
	r.OnReload(func(*Config) error { called = true; return nil })

	writeFile(t, path, reloadBad, 0o600)
	now = now.Add(time.Minute)
	err := r.Reload()
	if err == nil || err.Error() != "apps[0].sample_ratio: must be > 0 and <= 1, got 5" {
		t.Errorf("Reload() = %v, want the validation error", err)
	}
	if r.Current() != old {
		t.Error("a failed reload replaced the running config")
	}
	if called {
		t.Error("a subscriber was given an invalid config")
	}
	checkReloadMetrics(t, reg, 0, "1.7e+09")
	if n := strings.Count(logs.String(), "level=error"); n != 1 {
		t.Errorf("logged %d errors, want 1:\n%s", n, logs)
	}

	writeFile(t, path, reloadGood2, 0o600) // fixed: the next reload succeeds
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	checkReloadMetrics(t, reg, 1, "1.70000006e+09")
	if strings.Contains(logs.String(), reloadSecret) {
		t.Errorf("log shows the secret:\n%s", logs)
	}
}

func TestReloaderSubscriberErrorAborts(t *testing.T) {
	now := time.Unix(1700000000, 0)
	r, reg, path, logs := newTestReloader(t, reloadGood, &now)
	old := r.Current()
	errRefused := errors.New("cannot apply")
	var firstGot []*Config
	r.OnReload(func(c *Config) error { firstGot = append(firstGot, c); return nil })
	r.OnReload(func(*Config) error { return errRefused })
	thirdCalled := false
	r.OnReload(func(*Config) error { thirdCalled = true; return nil })

	writeFile(t, path, reloadGood2, 0o600)
	err := r.Reload()
	if !errors.Is(err, errRefused) {
		t.Errorf("Reload() = %v, want the subscriber's error", err)
	}
	if r.Current() != old {
		t.Error("a refused reload replaced the running config")
	}
	if thirdCalled {
		t.Error("subscribers after the refusing one were called")
	}
	if len(firstGot) != 2 || firstGot[0] == old || firstGot[1] != old {
		t.Errorf("first subscriber got %v, want the new config then the running one back", firstGot)
	}
	checkReloadMetrics(t, reg, 0, "1.7e+09")
	if !strings.Contains(logs.String(), "cannot apply") {
		t.Errorf("log lacks the refusal:\n%s", logs)
	}
}

func TestNewReloaderErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	writeFile(t, bad, reloadBad, 0o600)
	if _, err := NewReloader(bad, prometheus.NewRegistry(), nil); err == nil {
		t.Error("NewReloader(invalid file) succeeded")
	}
	good := filepath.Join(dir, "good.yml")
	writeFile(t, good, reloadGood, 0o600)
	reg := prometheus.NewRegistry()
	if _, err := NewReloader(good, reg, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewReloader(good, reg, nil); err == nil {
		t.Error("a second NewReloader on the same registry succeeded")
	}
	if _, err := NewReloader(good, nil, nil); err != nil {
		t.Errorf("NewReloader without a registry: %v", err)
	}
}

// NewReloader leaves logging to its caller; Reload logs the warnings.
func TestReloaderLogsWarningsOnReload(t *testing.T) {
	now := time.Unix(1700000000, 0)
	noSources := "apps: [{name: prod, sdkappid: 1, identifier: admin, secret_key: " + reloadSecret + "}]\n"
	r, _, _, logs := newTestReloader(t, noSources, &now)
	if len(r.Current().Warnings) != 1 || logs.String() != "" {
		t.Errorf("after NewReloader: Warnings %q, log %q; want one warning, nothing logged", r.Current().Warnings, logs)
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "level=warn"); n != 1 || !strings.Contains(logs.String(), "no PushIDs will be read") {
		t.Errorf("after Reload, log:\n%s\nwant the warning once", logs)
	}
}

// Reloads racing with readers and with each other (run with -race).
func TestReloaderConcurrent(t *testing.T) {
	now := time.Unix(1700000000, 0)
	r, _, _, _ := newTestReloader(t, reloadGood, &now)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				if err := r.Reload(); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for range 200 {
				if r.Current().Apps[0].Name != "prod" {
					t.Error("Current() lost the app")
				}
			}
		})
	}
	wg.Wait()
}

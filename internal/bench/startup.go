package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/store"
)

// Benchmark 6, start-up with a state file holding 100 k pending PushIDs
// and 1 M dedup entries. The state is made the normal way (childMemory:
// 1 M IDs offered with max_pending 100 k). Then, each three times:
// store.Open + New + SetApps + Restore in a fresh process, and the real
// binary from exec to its first 200 on /-/ready.

type restoreResult struct {
	OpenSec, RestoreSec float64
	Pending             float64
	HeapAlloc, RSS      int64
}

func runStartup(o *options) ([]row, error) {
	pending, dedup, reps := 100_000, 1_000_000, 3
	if o.quick {
		pending, dedup, reps = 2_000, 20_000, 1
	}
	dir := filepath.Join(o.tmp, "startup")
	var built memoryResult
	if _, err := runChild("memory", memoryArgs{Dir: dir, N: dedup, MaxPending: pending, Chunk: max(1000, dedup/100)}, 0, "", &built); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	state := fmt.Sprintf("%s pending + %s dedup entries, state file %s", si(built.Pending), si(float64(dedup)), mb(float64(built.FileBytes)))
	logf("startup: built %s; while building: VmRSS %s", state, mb(float64(built.RSS)))

	var open, restore []float64
	var last restoreResult
	for i := range reps {
		profile := ""
		if i == reps-1 {
			profile = o.profilePath("startup-restore.cpu.pprof")
		}
		if _, err := runChild("restore", dir, 0, profile, &last); err != nil {
			return nil, err
		}
		open, restore = append(open, last.OpenSec), append(restore, last.RestoreSec)
	}
	total := median(open) + median(restore)
	rows := []row{
		{
			bench: "start-up in process (store.Open + New + SetApps + Restore), " + state,
			figure: fmt.Sprintf("%s (open and check %s, restore %s; median of %d); then %s pending, heap %s, VmRSS %s",
				ms(sec(total)), ms(sec(median(open))), ms(sec(median(restore))), reps, si(last.Pending), mb(float64(last.HeapAlloc)), mb(float64(last.RSS))),
			target: "≤ 2 s",
			met:    verdict(total <= 2 && last.Pending == built.Pending),
		},
	}

	exe, err := exporterBinary(o)
	if err != nil {
		return rows, err
	}
	empty := filepath.Join(o.tmp, "startup-empty")
	base, err := timeToReady(exe, empty, 1)
	if err != nil {
		return rows, err
	}
	full, err := timeToReady(exe, dir, reps)
	if err != nil {
		return rows, err
	}
	rows = append(rows, row{
		bench:  "start-up of the binary, exec to 200 on /-/ready, " + state,
		figure: fmt.Sprintf("%s (median of %d; with an empty state file %s)", ms(full), reps, ms(base)),
		target: "≤ 2 s",
		met:    verdict(full <= 2*time.Second),
	})
	return rows, nil
}

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// childRestore opens the state file and restores a collector from it.
func childRestore(raw json.RawMessage, profile string) (any, error) {
	var dir string
	if err := json.Unmarshal(raw, &dir); err != nil {
		return nil, err
	}
	stop, err := startCPUProfile(profile)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	st, _, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	t1 := time.Now()
	reg := prometheus.NewRegistry()
	c, err := newPipeline(st, reg, ledger.Options{}, benchApp{name: benchAppTag, ratio: 1, queryDelay: time.Hour,
		requeryAfter: []time.Duration{5 * time.Minute, 30 * time.Minute}, maxPending: 100_000, tracer: idleTracer{}})
	if err != nil {
		return nil, err
	}
	t2 := time.Now()
	stop()
	res := restoreResult{OpenSec: t1.Sub(t0).Seconds(), RestoreSec: t2.Sub(t1).Seconds(),
		Pending: gatherSum(reg, "timpush_exporter_pending_pushids", nil), HeapAlloc: int64(liveHeap()), RSS: procStatus("VmRSS")}
	runtime.KeepAlive(c)
	return res, nil
}

// exporterBinary returns -exporter or builds the module's main package.
func exporterBinary(o *options) (string, error) {
	if o.exporter != "" {
		return o.exporter, nil
	}
	// Build by import path: it works from any directory of the module, and
	// needs no lookup of the module root (which went through `go env`).
	exe := filepath.Join(o.tmp, "timpush_exporter")
	cmd := exec.Command("go", "build", "-o", exe, "github.com/timpush/timpush_exporter")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the exporter (run from the repository, or pass -exporter): %w", err)
	}
	return exe, nil
}

// exporterConfig is the binary's config: the app whose state was built,
// pointed at a closed local port (the restored PushIDs are due in an hour
// and no source is configured, so it makes no call while measured).
const exporterConfig = `apps:
  - name: bench
    sdkappid: 1400000001
    identifier: administrator
    secret_key: bench-secret-key-0123456789abcdef
    endpoint: http://127.0.0.1:9
    max_pending: 100000
`

// timeToReady starts the binary on the state in dir reps times and returns
// the median time from exec to the first 200 on /-/ready.
func timeToReady(exe, dir string, reps int) (time.Duration, error) {
	cfg := filepath.Join(filepath.Dir(dir), "exporter.yml")
	if err := os.WriteFile(cfg, []byte(exporterConfig), 0o600); err != nil {
		return 0, err
	}
	var times []time.Duration
	for range reps {
		d, err := startOnce(exe, cfg, dir)
		if err != nil {
			return 0, err
		}
		times = append(times, d)
	}
	return percentile(times, 50), nil
}

func startOnce(exe, cfg, dir string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	addr := ln.Addr().String()
	ln.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(exe, "--config.file="+cfg, "--storage.path="+dir, "--web.listen-address="+addr, "--log.level=error")
	cmd.Stderr = &stderr
	hc := &http.Client{Timeout: 200 * time.Millisecond}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	}()
	for time.Since(start) < time.Minute {
		resp, err := hc.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		select {
		case err := <-exited:
			exited <- err // for the deferred wait
			return 0, fmt.Errorf("the exporter exited before it was ready (%v): %s", err, stderr.String())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("the exporter was not ready within a minute: %s", stderr.String())
}

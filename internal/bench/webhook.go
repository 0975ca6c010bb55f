package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/store"
)

// Benchmark 2, webhook intake with durable acknowledgement: the push-ids
// endpoint on a loopback listener, in front of a real collector whose
// state file is in a temp dir. Every 200 reply waited for the checkpoint
// (bbolt commit + fsync) that saved its IDs.

// webhookRatio is the fixed sample ratio of the webhook app.
const webhookRatio = 0.01

type webhookEnv struct {
	url  string
	reg  *prometheus.Registry
	stop func()
}

func runWebhook(o *options) ([]row, error) {
	warm, dur := time.Second, 5*time.Second
	if o.quick {
		warm, dur = 50*time.Millisecond, 300*time.Millisecond
	}
	var rows []row
	var next atomic.Int64 // PushID serial, unique across runs
	if o.wantFixed() {
		env, err := startWebhookEnv(filepath.Join(o.tmp, "webhook"), false)
		if err != nil {
			return nil, err
		}
		sampling := fmt.Sprintf("sample_ratio %g", webhookRatio)
		// One ID per request, Tencent's common case: paired with the bare
		// handler (webhook_paired.go).
		for _, clients := range []int{1, 64} {
			r, err := webhookPairedRow(o, env, clients, &next, sampling)
			if err != nil {
				env.stop()
				return rows, err
			}
			rows = append(rows, r)
		}
		stopProfile, err := startCPUProfile(o.profilePath("webhook.cpu.pprof"))
		if err != nil {
			env.stop()
			return nil, err
		}
		for _, load := range [][2]int{{16, 1}, {1, 100}, {16, 100}, {64, 100}} {
			rows = append(rows, webhookRow(env, load[0], load[1], warm, dur, &next, sampling))
		}
		stopProfile()
		env.stop()
	}
	if o.wantAuto() {
		env, err := startWebhookEnv(filepath.Join(o.tmp, "webhook-auto"), true)
		if err != nil {
			return rows, err
		}
		rows = append(rows, webhookRow(env, 64, 100, warm, dur, &next, "sample_ratio auto"))
		env.stop()
	}
	return rows, nil
}

// startWebhookEnv starts a collector with a state file in dir and the
// webhook handler on 127.0.0.1.
func startWebhookEnv(dir string, auto bool) (*webhookEnv, error) {
	st, _, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	app := benchApp{name: "bench", ratio: webhookRatio, queryDelay: time.Hour, maxPending: 1_000_000, tracer: idleTracer{}}
	if auto {
		app.ratio = 0
	}
	c, err := newPipeline(st, reg, ledger.Options{}, app)
	if err != nil {
		st.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()

	wh, err := source.NewWebhook(source.WebhookOptions{
		Apps:       func() []source.WebhookApp { return []source.WebhookApp{{Name: "bench", SDKAppID: 1400000000}} },
		Registerer: reg,
	}, c)
	if err != nil {
		cancel()
		st.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		st.Close()
		return nil, err
	}
	// The timeouts main.go gives the webhook listener.
	srv := &http.Server{Handler: wh.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 20 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go srv.Serve(ln) //nolint:errcheck // ErrServerClosed at the end
	return &webhookEnv{
		url: "http://" + ln.Addr().String() + "/webhook/push-ids?app=bench",
		reg: reg,
		stop: func() {
			srv.Close()
			cancel()
			<-runDone
			st.Close()
		},
	}, nil
}

// webhookRow runs one load (clients × batch) and makes its row.
func webhookRow(env *webhookEnv, clients, batch int, warm, dur time.Duration, next *atomic.Int64, sampling string) row {
	commitsBefore := gatherHistogramCount(env.reg, "timpush_exporter_checkpoint_duration_seconds")
	res := webhookLoad(env.url, clients, batch, warm, dur, next)
	commits := gatherHistogramCount(env.reg, "timpush_exporter_checkpoint_duration_seconds") - commitsBefore
	idsPerSec := float64(res.ids) / dur.Seconds()
	p50, p99 := percentile(res.lat, 50), percentile(res.lat, 99)
	fig := fmt.Sprintf("%s IDs/s (%s req/s); p50 %s, p99 %s; %.1f requests per commit",
		si(idsPerSec), si(float64(len(res.lat))/dur.Seconds()), ms(p50), ms(p99),
		float64(res.requests)/max(1, commits))
	if res.failed > 0 {
		fig += fmt.Sprintf("; %d FAILED requests", res.failed)
	}
	logf("webhook %d clients × %d: %s", clients, batch, fig)
	return row{
		bench:  fmt.Sprintf("webhook push-ids, %d client(s) × %d ID(s)/request, %s", clients, batch, sampling),
		figure: fig,
		target: "≥ 20,000 IDs/s; p99 ≤ 50 ms",
		met:    verdict(idsPerSec >= 20000 && p99 <= 50*time.Millisecond && res.failed == 0),
	}
}

type loadResult struct {
	ids, requests, failed int             // requests completed within the measured window
	lat                   []time.Duration // their reply latencies
}

// webhookLoad runs clients loops posting batch IDs each, for warm (not
// measured) and then dur (measured: requests completed in it).
func webhookLoad(url string, clients, batch int, warm, dur time.Duration, next *atomic.Int64) loadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	start := time.Now()
	from, until := start.Add(warm), start.Add(warm+dur)
	var mu sync.Mutex
	var res loadResult
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine loadResult
			var body []byte
			for {
				body = pushIDsBody(body[:0], batch, next)
				t := time.Now()
				if t.After(until) {
					break
				}
				ok := post(hc, url, body)
				done := time.Now()
				if done.Before(from) || done.After(until) {
					continue
				}
				mine.requests++
				if !ok {
					mine.failed++
					continue
				}
				mine.ids += batch
				mine.lat = append(mine.lat, done.Sub(t))
			}
			mu.Lock()
			res.ids, res.requests, res.failed = res.ids+mine.ids, res.requests+mine.requests, res.failed+mine.failed
			res.lat = append(res.lat, mine.lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return res
}

// pushIDsBody appends {"PushIDs":[...]} with n new IDs.
func pushIDsBody(b []byte, n int, next *atomic.Int64) []byte {
	b = append(b, `{"PushIDs":[`...)
	first := next.Add(int64(n)) - int64(n)
	for i := range int64(n) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `"144115233406643804-1764036002-`...)
		b = strconv.AppendInt(b, 1_000_000_000+first+i, 10)
		b = append(b, '"')
	}
	return append(b, "]}"...)
}

func post(hc *http.Client, url string, body []byte) bool {
	resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

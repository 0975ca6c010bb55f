package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The 1-ID rows of benchmark 2 compare the webhook with what one HTTP
// exchange costs on this machine: a net/http handler that only reads the
// body and answers 200, driven by the same load generator in the same
// process. The two run in paired rounds (paired.go), so that the ratio is
// taken between runs that shared the machine's load.

// webhookVsBare is the target: the exporter's IDs/s at one ID per request,
// as a share of the bare handler's requests/s.
const webhookVsBare = 0.8

// webhookPairedRow runs rounds of the exporter (env: the real handler,
// ledger and store with fsync, as the binary runs them) and the bare
// handler at clients × 1 ID per request, and makes the row.
func webhookPairedRow(o *options, env *webhookEnv, clients int, next *atomic.Int64, sampling string) (row, error) {
	warm, dur, rounds := 500*time.Millisecond, 3*time.Second, 5
	if o.quick {
		warm, dur, rounds = 50*time.Millisecond, 200*time.Millisecond, 2
	}
	bare, err := startBareHTTP()
	if err != nil {
		return row{}, err
	}
	defer bare.Close()
	bareURL := "http://" + bare.Addr + "/"

	var exp, base loadResult // pooled over the rounds
	var requests, commits, commitSecs float64
	subject := contender{"exporter", func(round int) (float64, error) {
		stopProfile, err := startCPUProfile(o.profilePath(fmt.Sprintf("webhook-%dx1.round%d.cpu.pprof", clients, round+1)))
		if err != nil {
			return 0, err
		}
		n0, s0 := gatherHistogram(env.reg, "timpush_exporter_checkpoint_duration_seconds")
		res := webhookLoad(env.url, clients, 1, warm, dur, next)
		n1, s1 := gatherHistogram(env.reg, "timpush_exporter_checkpoint_duration_seconds")
		commits, commitSecs = commits+n1-n0, commitSecs+s1-s0
		stopProfile()
		requests += float64(res.requests)
		exp.add(res)
		v := float64(res.ids) / dur.Seconds()
		logf("webhook %d clients × 1, round %d: exporter %s IDs/s, p99 %s, %d failed (load average %s)",
			clients, round+1, si(v), ms(percentile(res.lat, 99)), res.failed, loadAverage())
		return v, nil
	}}
	baseline := contender{"bare", func(round int) (float64, error) {
		res := webhookLoad(bareURL, clients, 1, warm, dur, next)
		base.add(res)
		v := float64(len(res.lat)) / dur.Seconds()
		logf("webhook %d clients × 1, round %d: bare net/http %s req/s, p99 %s (load average %s)",
			clients, round+1, si(v), ms(percentile(res.lat, 99)), loadAverage())
		return v, nil
	}}
	res, err := runPaired(rounds, subject, baseline)
	if err != nil {
		return row{}, err
	}
	ratio := spreadOf(res.ratios("exporter", "bare"))
	fig := fmt.Sprintf("exporter %s IDs/s (p50 %s, p99 %s; %.1f requests per commit, mean commit %s); bare net/http handler %s req/s (p50 %s, p99 %s); exporter ÷ bare %s (median of %d paired rounds, min–max)",
		si(res.median("exporter")), ms(percentile(exp.lat, 50)), ms(percentile(exp.lat, 99)), requests/max(1, commits),
		ms(time.Duration(commitSecs/max(1, commits)*float64(time.Second))),
		si(res.median("bare")), ms(percentile(base.lat, 50)), ms(percentile(base.lat, 99)), ratio, res.rounds)
	if exp.failed > 0 {
		fig += fmt.Sprintf("; %d FAILED requests", exp.failed)
	}
	logf("webhook %d clients × 1: %s", clients, fig)
	return row{
		bench:  fmt.Sprintf("webhook push-ids, %d client(s) × 1 ID(s)/request, %s, paired with a bare net/http handler (read body, 200), same load generator", clients, sampling),
		figure: fig,
		target: fmt.Sprintf("≥ %g× the bare handler", webhookVsBare),
		met:    verdict(ratio.med >= webhookVsBare && exp.failed == 0),
	}, nil
}

// add pools another run's results into r.
func (r *loadResult) add(o loadResult) {
	r.ids, r.requests, r.failed = r.ids+o.ids, r.requests+o.requests, r.failed+o.failed
	r.lat = append(r.lat, o.lat...)
}

// bareHTTP is the baseline server on 127.0.0.1.
type bareHTTP struct {
	Addr string
	srv  *http.Server
}

// startBareHTTP starts a server whose handler only reads the body and
// answers a small JSON 200, with the webhook listener's timeouts.
func startBareHTTP() (*bareHTTP, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"accepted":1}`+"\n")
	}), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 20 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go srv.Serve(ln) //nolint:errcheck // ErrServerClosed at the end
	return &bareHTTP{Addr: ln.Addr().String(), srv: srv}, nil
}

// Close stops the server.
func (b *bareHTTP) Close() { b.srv.Close() }

// gatherHistogram returns the sample count and sum of the first series
// of the named histogram (0, 0 if none).
func gatherHistogram(g prometheus.Gatherer, name string) (count, sum float64) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, 0
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			h := mf.GetMetric()[0].GetHistogram()
			return float64(h.GetSampleCount()), h.GetSampleSum()
		}
	}
	return 0, 0
}

// Package demo runs timpush_exporter with no Tencent account: it starts the
// API simulator on loopback, describes an app that talks to it, feeds a
// synthetic stream of PushIDs and posts Tencent-style push callbacks to the
// exporter's own webhook. Everything it produces is synthetic, and it says
// so.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promcfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/simulator"
	"github.com/timpush/timpush_exporter/internal/source"
)

// AppName is the `app` label of the demo's metrics.
const AppName = "demo"

const (
	sdkAppID   = 1400000000
	identifier = "administrator"
	// pushesPerSecond is a small app's traffic. With sample_ratio: auto
	// the exporter samples what its 1 call/s budget can trace, so the
	// demo's own budget is never overloaded.
	pushesPerSecond = 2
	// Huawei is having a bad day, from the start: its channel refuses 40 %
	// of the pushes (the simulator's everyday is 2.5 %) and its devices
	// miss 45 % of the rest (everyday 15 %), so that the shipped alert
	// rules page within minutes.
	huawei              = 3
	huaweiChannelFailed = 0.40
	huaweiDeviceFailed  = 0.45
)

// Demo is a running simulator plus the config that points at it.
type Demo struct {
	Sim    *simulator.Simulator
	Config *config.Config
	clock  clock.Clock
}

// Start starts the simulator on 127.0.0.1 and returns the demo config: one
// app with short query delays so that data shows up within a minute, and a
// webhook listener on a free loopback port for the push callbacks.
func Start(clk clock.Clock) (*Demo, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(key)
	sim := simulator.New(simulator.Config{
		Apps:      []simulator.App{{SDKAppID: sdkAppID, Identifier: identifier, SecretKey: secret}},
		RateLimit: 1,
		Clock:     clk,
		Seed:      time.Now().UnixNano(),
		Retention: 25 * time.Hour, // the statistics look back 24 h
	})
	sim.SetChannelFailure(huawei, huaweiChannelFailed)
	sim.SetDeviceFailure(huawei, huaweiDeviceFailed)
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the API simulator: %w", err)
	}
	app := config.DefaultApp
	app.Name = AppName
	app.SDKAppID = sdkAppID
	app.Identifier = identifier
	app.SecretKey = promcfg.Secret(secret)
	app.Endpoint = url
	app.SampleAuto = true
	app.StatisticsInterval = model.Duration(time.Minute)
	app.QueryDelay = model.Duration(5 * time.Second)
	app.RequeryAfter = []model.Duration{model.Duration(30 * time.Second), model.Duration(2 * time.Minute)}
	webhook := config.DefaultWebhook
	webhook.ListenAddress = "127.0.0.1:0"
	cfg := &config.Config{Apps: []config.App{app}}
	cfg.Sources.Webhook = &webhook
	return &Demo{Sim: sim, Config: cfg, clock: clk}, nil
}

// Stream registers pushes with the simulator and offers their PushIDs to
// sink, pushesPerSecond of them, until ctx ends; when callbackURL is set,
// the simulator posts each push's result events there, as Tencent's push
// callback does.
func (d *Demo) Stream(ctx context.Context, sink source.Sink, callbackURL string) {
	var sender *simulator.CallbackSender
	if callbackURL != "" {
		sender = d.Sim.NewCallbackSender(simulator.CallbackConfig{URL: callbackURL, SDKAppID: sdkAppID})
		done := make(chan struct{})
		go func() { defer close(done); sender.Run(ctx) }()
		defer func() { <-done }()
	}
	interval := time.Second / pushesPerSecond
	for {
		t := d.clock.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		id := d.Sim.NewPush(sdkAppID)
		ids, received := source.Sample(sink, []pushid.ID{{App: AppName, PushID: id, Source: pushid.SourceDemo, Seen: d.clock.Now()}})
		sink.Offer(source.Batch{IDs: ids, Received: received})
		if sender != nil {
			sender.AddPush(id)
		}
	}
}

var (
	descCalls = prometheus.NewDesc("timpush_demo_simulator_calls_total",
		"Calls the demo's API simulator received.", nil, nil)
	descOverLimit = prometheus.NewDesc("timpush_demo_simulator_calls_over_limit_total",
		"Calls the demo's API simulator answered 60007 because they exceeded 1 call/s: should stay 0.", nil, nil)
)

// Describe and Collect export the simulator's own counts, so anyone can see
// that the exporter never exceeded the rate limit.
func (d *Demo) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCalls
	ch <- descOverLimit
}

func (d *Demo) Collect(ch chan<- prometheus.Metric) {
	s := d.Sim.Stats(sdkAppID)
	ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(s.Calls))
	ch <- prometheus.MustNewConstMetric(descOverLimit, prometheus.CounterValue, float64(s.OverLimit))
}

// Close stops the simulator.
func (d *Demo) Close() error { return d.Sim.Close() }

// Setup starts the demo for an exporter whose state would go to dir: the
// simulator, and, unless the user gave dir, a fresh temporary state
// directory instead, so that a second demo does not inherit the first one's
// counters. cleanup stops the simulator and removes that directory.
func Setup(dir string, given bool) (d *Demo, stateDir string, cleanup func(), err error) {
	d, err = Start(clock.Real{})
	if err != nil {
		return nil, "", nil, err
	}
	if given {
		return d, dir, func() { d.Close() }, nil
	}
	tmp, err := os.MkdirTemp("", "timpush-demo-")
	if err != nil {
		d.Close()
		return nil, "", nil, err
	}
	return d, tmp, func() { d.Close(); os.RemoveAll(tmp) }, nil
}

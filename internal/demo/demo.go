// Package demo runs timpush_exporter with no Tencent account: it starts the
// API simulator on loopback, describes an app that talks to it, and feeds a
// synthetic stream of PushIDs. Everything it produces is synthetic, and it
// says so.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/simulator"
	"github.com/timpush/timpush_exporter/internal/source"

	promcfg "github.com/prometheus/common/config"
)

// AppName is the `app` label of the demo's metrics.
const AppName = "demo"

const (
	sdkAppID   = 1400000000
	identifier = "administrator"
	// pushesPerSecond with sampleRatio 0.5 asks for a little more than the
	// 1 call/s budget (first queries plus requeries), so the demo also shows
	// sampling, a backlog and its bound at work.
	pushesPerSecond = 2
	sampleRatio     = 0.5
	maxPending      = 1000
	// huaweiDeviceFailure is raised from the simulator's everyday 15 %: in
	// the demo Huawei is having a bad day, so failures show within a minute.
	huaweiDeviceFailure = 0.3
)

// Demo is a running simulator plus the config that points at it.
type Demo struct {
	Sim    *simulator.Simulator
	Config *config.Config
	clock  clock.Clock
}

// Start starts the simulator on 127.0.0.1 and returns the demo config: one
// app with a short query delay so that data shows up within a minute.
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
	})
	sim.SetDeviceFailure(3, huaweiDeviceFailure)
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
	app.SampleRatio = sampleRatio
	app.StatisticsInterval = model.Duration(time.Minute)
	app.MaxPending = maxPending
	app.QueryDelay = model.Duration(5 * time.Second)
	app.RequeryAfter = []model.Duration{model.Duration(30 * time.Second), model.Duration(2 * time.Minute)}
	return &Demo{Sim: sim, Config: &config.Config{Apps: []config.App{app}}, clock: clk}, nil
}

// Stream registers pushes with the simulator and offers their PushIDs to
// sink, pushesPerSecond of them, until ctx ends.
func (d *Demo) Stream(ctx context.Context, sink source.Sink) {
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

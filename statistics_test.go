package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/statistics"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

type countingClient struct{ calls atomic.Int64 }

func (c *countingClient) Statistics(context.Context, time.Time, time.Time) (*timapi.Statistics, error) {
	c.calls.Add(1)
	return &timapi.Statistics{TotalCount: 3}, nil
}

func (c *countingClient) Loss(context.Context, time.Time, time.Time) (*timapi.Loss, error) {
	c.calls.Add(1)
	return &timapi.Loss{}, nil
}

// Pollers follow the configuration: one per app with a statistics_interval,
// replaced on reload, gone with their app, stopped at the end.
func TestStatPollersFollowReload(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newStatPollers(reg, log.NewNopLogger())
	defer s.stop()
	clients := map[string]statistics.Client{"on": &countingClient{}, "off": &countingClient{}}
	app := func(name string, d time.Duration) config.App {
		return config.App{Name: name, StatisticsInterval: model.Duration(d)}
	}
	polled := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; {
			n, err := testutil.GatherAndCount(reg, "push_statistics_pushes")
			if err == nil && n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d push_statistics_pushes series (err %v), want %d", n, err, want)
			}
			time.Sleep(10 * time.Millisecond) // the pollers run on the real clock
		}
	}

	s.apply(&config.Config{Apps: []config.App{app("on", time.Hour), app("off", 0)}}, clients)
	polled(4) // app "on", platform all, four kinds
	if n := clients["off"].(*countingClient).calls.Load(); n != 0 {
		t.Errorf("app with statistics_interval 0 made %d calls", n)
	}
	s.apply(&config.Config{Apps: []config.App{app("on", time.Hour)}}, clients)
	polled(4)
	if n := clients["on"].(*countingClient).calls.Load(); n != 2 {
		t.Errorf("%d calls after a reload, want 2: the new poller waits out the interval", n)
	}
	s.apply(&config.Config{Apps: []config.App{app("off", 0)}}, clients)
	polled(0)
	s.stop()
	s.stop()

	var none *statPollers // appBuilders without polling
	none.apply(&config.Config{Apps: []config.App{app("on", time.Hour)}}, clients)
	none.stop()
}

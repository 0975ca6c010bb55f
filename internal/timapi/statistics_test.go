package timapi

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

func TestStatistics(t *testing.T) {
	clk := clock.NewFake(testStart)
	api := newFakeAPI(t, clk, okReply(`{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"",
		"TotalCount":100,"SentCount":"90","DeliveredCount":80,"ClickCount":7,"Unknown":1,
		"PlatformStatistics":[{"PushPlatform":1,"TotalCount":60,"SentCount":55,"DeliveredCount":50,"ClickCount":"5"},
		                      {"PushPlatform":"3","TotalCount":40,"SentCount":35,"DeliveredCount":30,"ClickCount":2}]}`))
	o, lim, _ := testOptions(api, clk)
	start, end := time.Unix(1741708800, 0), time.Unix(1741795200, 0)
	s, err := mustNew(t, o).Statistics(context.Background(), start, end)
	if err != nil {
		t.Fatal(err)
	}
	want := Statistics{Start: start, End: end, TotalCount: 100, SentCount: 90, DeliveredCount: 80, ClickCount: 7}
	got := *s
	got.PlatformStatistics = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statistics = %+v, want %+v", got, want)
	}
	if len(s.PlatformStatistics) != 2 || s.PlatformStatistics[0] != (PlatformStatistics{1, 60, 55, 50, 5}) ||
		s.PlatformStatistics[1] != (PlatformStatistics{3, 40, 35, 30, 2}) {
		t.Errorf("platforms = %+v", s.PlatformStatistics)
	}
	r := api.requests()
	if len(r) != 1 || lim.n.Load() != 1 || r[0].path != "/v4/timpush/normal_push_statistics" ||
		r[0].body != `{"StartTime":1741708800,"EndTime":1741795200}` || r[0].query.Get("contenttype") != "json" {
		t.Errorf("request = %+v", r)
	}
}

func TestLoss(t *testing.T) {
	clk := clock.NewFake(testStart)
	api := newFakeAPI(t, clk, okReply(`{"ActionStatus":"OK","ErrorCode":0,
		"ReadyToSendLoss":[{"ErrCode":"-1","ErrCount":12,"ErrInfo":"token not uploaded"},{"ErrCode":410,"ErrCount":"3","ErrInfo":"x"}],
		"PostSendDeliveredLoss":null,
		"PlatformReadyToSendLoss":{"PushPlatform":2,"ErrCode":"regid_invalid","ErrCount":4,"ErrInfo":"regid_invalid"},
		"PlatformPostSendDeliveredLoss":[{"PushPlatform":"4","ErrCode":"Unregistered","ErrCount":9,"ErrInfo":"Unregistered","More":true}]}`))
	o, _, _ := testOptions(api, clk)
	start := time.Unix(1741708800, 0)
	l, err := mustNew(t, o).Loss(context.Background(), start, start.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.ReadyToSendLoss) != 2 || l.ReadyToSendLoss[0] != (LossReason{0, "-1", 12, "token not uploaded"}) ||
		l.ReadyToSendLoss[1] != (LossReason{0, "410", 3, "x"}) {
		t.Errorf("ReadyToSendLoss = %+v", l.ReadyToSendLoss)
	}
	if len(l.PostSendDeliveredLoss) != 0 {
		t.Errorf("PostSendDeliveredLoss = %+v", l.PostSendDeliveredLoss)
	}
	if len(l.PlatformReadyToSendLoss) != 1 || l.PlatformReadyToSendLoss[0] != (LossReason{2, "regid_invalid", 4, "regid_invalid"}) {
		t.Errorf("PlatformReadyToSendLoss = %+v", l.PlatformReadyToSendLoss)
	}
	if len(l.PlatformPostSendDeliveredLoss) != 1 || l.PlatformPostSendDeliveredLoss[0] != (LossReason{4, "Unregistered", 9, "Unregistered"}) {
		t.Errorf("PlatformPostSendDeliveredLoss = %+v", l.PlatformPostSendDeliveredLoss)
	}
	if r := api.requests(); len(r) != 1 || r[0].path != "/v4/timpush/normal_push_loss" {
		t.Errorf("requests = %+v", r)
	}
}

func TestWindowsAreCheckedLocally(t *testing.T) {
	api := newFakeAPI(t, nil)
	o, lim, _ := testOptions(api, nil)
	o.Clock = nil
	c := mustNew(t, o)
	t0 := time.Unix(1741708800, 0)
	ctx := context.Background()
	cases := []struct {
		name string
		call func() error
	}{
		{"statistics reversed", func() error { _, err := c.Statistics(ctx, t0, t0.Add(-time.Hour)); return err }},
		{"statistics empty", func() error { _, err := c.Statistics(ctx, t0, t0); return err }},
		{"statistics 31 days", func() error { _, err := c.Statistics(ctx, t0, t0.Add(31*24*time.Hour)); return err }},
		{"loss 8 days", func() error { _, err := c.Loss(ctx, t0, t0.Add(8*24*time.Hour)); return err }},
	}
	for _, tt := range cases {
		if err := tt.call(); !errors.Is(err, ErrWindow) {
			t.Errorf("%s: err = %v, want ErrWindow", tt.name, err)
		}
	}
	if len(api.requests()) != 0 || lim.n.Load() != 0 {
		t.Error("an invalid window reached the API")
	}
	if _, err := c.Statistics(ctx, t0, t0.Add(MaxStatisticsWindow)); err != nil {
		t.Errorf("30 days: %v", err)
	}
	if _, err := c.Loss(ctx, t0, t0.Add(MaxLossWindow)); err != nil {
		t.Errorf("7 days: %v", err)
	}
}

func TestSiblingErrorsUseTheSamePolicy(t *testing.T) {
	clk := clock.NewFake(testStart)
	api := newFakeAPI(t, clk, codeReply(70009))
	o, _, _ := testOptions(api, clk)
	t0 := time.Unix(1741708800, 0)
	_, err := mustNew(t, o).Loss(context.Background(), t0, t0.Add(time.Hour))
	if e := asError(t, err); e.Class != ClassConfig || e.Label() != "70009" || len(api.requests()) != 1 {
		t.Errorf("err = %v after %d requests", err, len(api.requests()))
	}
	api2 := newFakeAPI(t, clk, okReply(`{"ActionStatus":"OK","ErrorCode":0,"TotalCount":{"a":1}}`))
	o.BaseURL = api2.URL
	_, err = mustNew(t, o).Statistics(context.Background(), t0, t0.Add(time.Hour))
	if e := asError(t, err); e.Class != ClassUnexpectedReply || e.Label() != "unexpected_reply" {
		t.Errorf("err = %v", err)
	}
}

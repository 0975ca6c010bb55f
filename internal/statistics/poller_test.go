package statistics

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

const statisticsBody = `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"",
	"TotalCount":1000,"SentCount":900,"DeliveredCount":800,"ClickCount":"70",
	"PlatformStatistics":[{"PushPlatform":1,"TotalCount":600,"SentCount":550,"DeliveredCount":500,"ClickCount":50},
	                      {"PushPlatform":"3","TotalCount":400,"SentCount":350,"DeliveredCount":300,"ClickCount":20}]}`

// lossBody is the documented example with its stray braces removed, the
// last list given as a single object and some numbers as strings: shapes
// the decoder tolerates.
const lossBody = `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"sucess",
	"ReadyToSendLoss":[{"ErrCode":"-1","ErrCount":167,"ErrInfo":"certificate id not set"},{"ErrCode":"-2","ErrCount":125,"ErrInfo":"token not uploaded"}],
	"PostSendDeliveredLoss":[{"ErrCode":"1","ErrCount":217,"ErrInfo":"regid_invalid"},{"ErrCode":"410","ErrCount":35,"ErrInfo":"Unregistered"}],
	"PlatformReadyToSendLoss":[{"PushPlatform":1,"ErrCode":"-1","ErrCount":5,"ErrInfo":"certificate id not set"},{"PushPlatform":2,"ErrCode":"-1","ErrCount":123,"ErrInfo":"certificate id not set"}],
	"PlatformPostSendDeliveredLoss":{"PushPlatform":3,"ErrCode":410,"ErrCount":"35","ErrInfo":"Unregistered"}}`

const exportedReply = `
# HELP push_loss_pushes Pushes lost in the last 24 hours, from normal_push_loss, by error code: phase ready_to_send (before the vendor accepted them) or post_send_delivered (accepted, not delivered). platform="all" is Tencent's overall list. Codes beyond the 50 with the most losses per app and phase are summed in error_code="other".
# TYPE push_loss_pushes gauge
push_loss_pushes{app="prod",error_code="-1",phase="ready_to_send",platform="all"} 167
push_loss_pushes{app="prod",error_code="-1",phase="ready_to_send",platform="apns"} 5
push_loss_pushes{app="prod",error_code="-1",phase="ready_to_send",platform="xiaomi"} 123
push_loss_pushes{app="prod",error_code="-2",phase="ready_to_send",platform="all"} 125
push_loss_pushes{app="prod",error_code="1",phase="post_send_delivered",platform="all"} 217
push_loss_pushes{app="prod",error_code="410",phase="post_send_delivered",platform="all"} 35
push_loss_pushes{app="prod",error_code="410",phase="post_send_delivered",platform="huawei"} 35
# HELP push_loss_reason_info Tencent's text (ErrInfo) for a push_loss_pushes error code, at most 100 characters; different texts for one code are joined with " | ". Always 1.
# TYPE push_loss_reason_info gauge
push_loss_reason_info{app="prod",error_code="-1",error_info="certificate id not set",phase="ready_to_send",platform="all"} 1
push_loss_reason_info{app="prod",error_code="-1",error_info="certificate id not set",phase="ready_to_send",platform="apns"} 1
push_loss_reason_info{app="prod",error_code="-1",error_info="certificate id not set",phase="ready_to_send",platform="xiaomi"} 1
push_loss_reason_info{app="prod",error_code="-2",error_info="token not uploaded",phase="ready_to_send",platform="all"} 1
push_loss_reason_info{app="prod",error_code="1",error_info="regid_invalid",phase="post_send_delivered",platform="all"} 1
push_loss_reason_info{app="prod",error_code="410",error_info="Unregistered",phase="post_send_delivered",platform="all"} 1
push_loss_reason_info{app="prod",error_code="410",error_info="Unregistered",phase="post_send_delivered",platform="huawei"} 1
# HELP push_statistics_pushes Unsampled single and group message pushes in the last 24 hours, from normal_push_statistics: kind total (sendable), sent, delivered or clicked. platform="all" is Tencent's overall count, not a sum of the platform series.
# TYPE push_statistics_pushes gauge
push_statistics_pushes{app="prod",kind="clicked",platform="all"} 70
push_statistics_pushes{app="prod",kind="clicked",platform="apns"} 50
push_statistics_pushes{app="prod",kind="clicked",platform="huawei"} 20
push_statistics_pushes{app="prod",kind="delivered",platform="all"} 800
push_statistics_pushes{app="prod",kind="delivered",platform="apns"} 500
push_statistics_pushes{app="prod",kind="delivered",platform="huawei"} 300
push_statistics_pushes{app="prod",kind="sent",platform="all"} 900
push_statistics_pushes{app="prod",kind="sent",platform="apns"} 550
push_statistics_pushes{app="prod",kind="sent",platform="huawei"} 350
push_statistics_pushes{app="prod",kind="total",platform="all"} 1000
push_statistics_pushes{app="prod",kind="total",platform="apns"} 600
push_statistics_pushes{app="prod",kind="total",platform="huawei"} 400
# HELP timpush_exporter_statistics_last_success_timestamp_seconds When the last poll of the API succeeded; the push_statistics_* and push_loss_* values are from then.
# TYPE timpush_exporter_statistics_last_success_timestamp_seconds gauge
timpush_exporter_statistics_last_success_timestamp_seconds{api="normal_push_loss",app="prod"} 1.7733024e+09
timpush_exporter_statistics_last_success_timestamp_seconds{api="normal_push_statistics",app="prod"} 1.7733024e+09
# HELP timpush_exporter_statistics_polls_total Polls of normal_push_statistics and normal_push_loss by result (ok, error), after the client's retries. A failed poll keeps the previous values.
# TYPE timpush_exporter_statistics_polls_total counter
timpush_exporter_statistics_polls_total{api="normal_push_loss",app="prod",result="error"} 0
timpush_exporter_statistics_polls_total{api="normal_push_loss",app="prod",result="ok"} 1
timpush_exporter_statistics_polls_total{api="normal_push_statistics",app="prod",result="error"} 0
timpush_exporter_statistics_polls_total{api="normal_push_statistics",app="prod",result="ok"} 1
`

// The gauges are the reply, through the real client and decoder.
func TestPollerExportsTheReply(t *testing.T) {
	h := newHarness(t)
	api := newFakeAPI(t, statisticsBody, lossBody)
	p := h.poller("prod", newClient(t, api.URL, noLimit{}, h.clock), testInterval)
	h.coll.Set([]*Poller{p})
	h.run(p)
	h.clock.BlockUntil(1) // the first poll is done, the next one waits
	h.compare(exportedReply)
	if problems, err := testutil.GatherAndLint(h.reg); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

func TestPollerInterval(t *testing.T) {
	h := newHarness(t)
	fc := &fakeClient{}
	fc.set(&timapi.Statistics{}, nil, &timapi.Loss{}, nil)
	p := h.poller("prod", fc, testInterval)
	h.coll.Set([]*Poller{p})
	h.clock.Advance(1500 * time.Millisecond) // polls start on whole seconds
	h.run(p)
	h.clock.BlockUntil(1)
	if n := fc.callCount(); n != 2 {
		t.Fatalf("%d calls at start, want 2 (statistics and loss)", n)
	}
	h.advance(testInterval-time.Second, 1)
	if n := fc.callCount(); n != 2 {
		t.Fatalf("%d calls before the interval passed, want 2", n)
	}
	h.advance(time.Second, 1)
	if n := fc.callCount(); n != 4 {
		t.Fatalf("%d calls after one interval, want 4", n)
	}
	end0 := t0.Add(time.Second)
	want := []call{
		{"statistics", end0.Add(-Window), end0}, {"loss", end0.Add(-Window), end0},
		{"statistics", end0.Add(testInterval - Window), end0.Add(testInterval)},
		{"loss", end0.Add(testInterval - Window), end0.Add(testInterval)},
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for i, c := range fc.calls {
		if !c.start.Equal(want[i].start) || !c.end.Equal(want[i].end) || c.api != want[i].api {
			t.Errorf("call %d = %s %s..%s, want %s %s..%s", i, c.api, c.start, c.end, want[i].api, want[i].start, want[i].end)
		}
	}
}

func TestPollerDisabled(t *testing.T) {
	fc := &fakeClient{}
	p := NewPoller(Options{App: "prod", Client: fc, Interval: 0})
	done := make(chan struct{})
	go func() { p.Run(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run with Interval 0 did not return")
	}
	if fc.callCount() != 0 {
		t.Error("a disabled poller called the API")
	}
}

func TestPollerStopsWhileWaiting(t *testing.T) {
	h := newHarness(t)
	fc := &fakeClient{}
	fc.set(&timapi.Statistics{}, nil, &timapi.Loss{}, nil)
	stop := h.run(h.poller("prod", fc, testInterval))
	h.clock.BlockUntil(1)
	stop() // returns only once Run has
	if h.clock.Waiters() != 0 {
		t.Error("Run left its timer behind")
	}
}

func stats(total int64, platforms ...timapi.PlatformStatistics) *timapi.Statistics {
	return &timapi.Statistics{TotalCount: total, SentCount: total, DeliveredCount: total, ClickCount: total, PlatformStatistics: platforms}
}

// A failed poll keeps the values, counts, and logs once per streak.
func TestPollerFailureKeepsValues(t *testing.T) {
	h := newHarness(t)
	fc := &fakeClient{}
	fc.set(stats(10), nil, &timapi.Loss{ReadyToSendLoss: []timapi.LossReason{{ErrCode: "-1", ErrCount: 3, ErrInfo: "x"}}}, nil)
	p := h.poller("prod", fc, testInterval)
	h.coll.Set([]*Poller{p})
	h.run(p)
	h.clock.BlockUntil(1)

	apiErr := &timapi.Error{Class: timapi.ClassTransient, Code: 90102}
	fc.set(nil, apiErr, nil, fmt.Errorf("wrapped: %w", apiErr))
	h.advance(testInterval, 1)
	h.advance(testInterval, 1)
	h.compare(`
# HELP push_loss_pushes Pushes lost in the last 24 hours, from normal_push_loss, by error code: phase ready_to_send (before the vendor accepted them) or post_send_delivered (accepted, not delivered). platform="all" is Tencent's overall list. Codes beyond the 50 with the most losses per app and phase are summed in error_code="other".
# TYPE push_loss_pushes gauge
push_loss_pushes{app="prod",error_code="-1",phase="ready_to_send",platform="all"} 3
# HELP push_loss_reason_info Tencent's text (ErrInfo) for a push_loss_pushes error code, at most 100 characters; different texts for one code are joined with " | ". Always 1.
# TYPE push_loss_reason_info gauge
push_loss_reason_info{app="prod",error_code="-1",error_info="x",phase="ready_to_send",platform="all"} 1
# HELP push_statistics_pushes Unsampled single and group message pushes in the last 24 hours, from normal_push_statistics: kind total (sendable), sent, delivered or clicked. platform="all" is Tencent's overall count, not a sum of the platform series.
# TYPE push_statistics_pushes gauge
push_statistics_pushes{app="prod",kind="clicked",platform="all"} 10
push_statistics_pushes{app="prod",kind="delivered",platform="all"} 10
push_statistics_pushes{app="prod",kind="sent",platform="all"} 10
push_statistics_pushes{app="prod",kind="total",platform="all"} 10
# HELP timpush_exporter_statistics_last_success_timestamp_seconds When the last poll of the API succeeded; the push_statistics_* and push_loss_* values are from then.
# TYPE timpush_exporter_statistics_last_success_timestamp_seconds gauge
timpush_exporter_statistics_last_success_timestamp_seconds{api="normal_push_loss",app="prod"} 1.7733024e+09
timpush_exporter_statistics_last_success_timestamp_seconds{api="normal_push_statistics",app="prod"} 1.7733024e+09
# HELP timpush_exporter_statistics_polls_total Polls of normal_push_statistics and normal_push_loss by result (ok, error), after the client's retries. A failed poll keeps the previous values.
# TYPE timpush_exporter_statistics_polls_total counter
timpush_exporter_statistics_polls_total{api="normal_push_loss",app="prod",result="error"} 2
timpush_exporter_statistics_polls_total{api="normal_push_loss",app="prod",result="ok"} 1
timpush_exporter_statistics_polls_total{api="normal_push_statistics",app="prod",result="error"} 2
timpush_exporter_statistics_polls_total{api="normal_push_statistics",app="prod",result="ok"} 1
`)
	if n := h.logs.Count("statistics poll failed"); n != 2 {
		t.Errorf("%d failure log lines after two failed polls of two APIs, want 2 (one per API)", n)
	}
	if n := h.logs.Count("90102"); n != 2 {
		t.Errorf("the failure log lines do not give the error code:\n%s", h.logs)
	}

	fc.set(stats(20), nil, &timapi.Loss{}, nil) // recovered: loss reasons gone
	h.advance(testInterval, 1)
	if n := h.logs.Count("statistics poll succeeded again"); n != 2 {
		t.Errorf("%d recovery log lines, want 2", n)
	}
	if got := h.value("push_statistics_pushes", "all", "total"); got != 20 {
		t.Errorf("total after recovery = %v, want 20", got)
	}
	if n, err := testutil.GatherAndCount(h.reg, "push_loss_pushes", "push_loss_reason_info"); err != nil || n != 0 {
		t.Errorf("%d loss series after an empty reply, want 0 (err %v)", n, err)
	}
	fc.set(nil, errors.New("down again"), &timapi.Loss{}, nil)
	h.advance(testInterval, 1)
	if n := h.logs.Count("statistics poll failed"); n != 3 {
		t.Errorf("%d failure log lines, want a new one for the new streak (3)", n)
	}
}

// value returns push_statistics_pushes{platform, kind}, or -1 if absent.
func (h *harness) value(name, platform, kind string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["platform"] == platform && l["kind"] == kind {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// Series the latest reply no longer has disappear.
func TestSeriesDisappear(t *testing.T) {
	h := newHarness(t)
	fc := &fakeClient{}
	fc.set(stats(5, timapi.PlatformStatistics{PushPlatform: 3, TotalCount: 5}), nil,
		&timapi.Loss{PlatformPostSendDeliveredLoss: []timapi.LossReason{{PushPlatform: 3, ErrCode: "80300007", ErrCount: 2, ErrInfo: "token invalid"}}}, nil)
	p := h.poller("prod", fc, testInterval)
	h.coll.Set([]*Poller{p})
	h.run(p)
	h.clock.BlockUntil(1)
	if n, _ := testutil.GatherAndCount(h.reg, "push_statistics_pushes", "push_loss_pushes", "push_loss_reason_info"); n != 4+4+1+1 {
		t.Fatalf("%d series after the first reply, want 10", n)
	}
	fc.set(stats(5), nil, &timapi.Loss{}, nil)
	h.advance(testInterval, 1)
	h.compare(`
# HELP push_statistics_pushes Unsampled single and group message pushes in the last 24 hours, from normal_push_statistics: kind total (sendable), sent, delivered or clicked. platform="all" is Tencent's overall count, not a sum of the platform series.
# TYPE push_statistics_pushes gauge
push_statistics_pushes{app="prod",kind="clicked",platform="all"} 5
push_statistics_pushes{app="prod",kind="delivered",platform="all"} 5
push_statistics_pushes{app="prod",kind="sent",platform="all"} 5
push_statistics_pushes{app="prod",kind="total",platform="all"} 5
`, "push_statistics_pushes", "push_loss_pushes", "push_loss_reason_info")
}

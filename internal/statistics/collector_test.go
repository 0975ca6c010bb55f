package statistics

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// A reload replaces the pollers: the new one of an app keeps the values,
// counters and schedule of the old one; a removed app disappears.
func TestCollectorSetCarriesOver(t *testing.T) {
	h := newHarness(t)
	fc := &fakeClient{}
	fc.set(stats(7), nil, &timapi.Loss{}, nil)
	prod, staging := h.poller("prod", fc, testInterval), h.poller("staging", fc, testInterval)
	h.coll.Set([]*Poller{prod, staging})
	stopProd, stopStaging := h.run(prod), h.run(staging)
	h.clock.BlockUntil(2)
	if n := fc.callCount(); n != 4 {
		t.Fatalf("%d calls, want 4", n)
	}

	h.clock.Advance(4 * time.Minute)
	stopProd()
	stopStaging()
	prod2 := h.poller("prod", fc, 5*time.Minute) // a new interval
	h.coll.Set([]*Poller{prod2})
	h.run(prod2)
	h.clock.BlockUntil(1)
	if n := fc.callCount(); n != 4 {
		t.Errorf("%d calls right after the reload, want 4: the schedule carries over", n)
	}
	h.compare(`
# HELP push_statistics_pushes Unsampled single and group message pushes in the last 24 hours, from normal_push_statistics: kind total (sendable), sent, delivered or clicked. platform="all" is Tencent's overall count, not a sum of the platform series.
# TYPE push_statistics_pushes gauge
push_statistics_pushes{app="prod",kind="clicked",platform="all"} 7
push_statistics_pushes{app="prod",kind="delivered",platform="all"} 7
push_statistics_pushes{app="prod",kind="sent",platform="all"} 7
push_statistics_pushes{app="prod",kind="total",platform="all"} 7
# HELP timpush_exporter_statistics_polls_total Polls of normal_push_statistics and normal_push_loss by result (ok, error), after the client's retries. A failed poll keeps the previous values.
# TYPE timpush_exporter_statistics_polls_total counter
timpush_exporter_statistics_polls_total{api="normal_push_loss",app="prod",result="error"} 0
timpush_exporter_statistics_polls_total{api="normal_push_loss",app="prod",result="ok"} 1
timpush_exporter_statistics_polls_total{api="normal_push_statistics",app="prod",result="error"} 0
timpush_exporter_statistics_polls_total{api="normal_push_statistics",app="prod",result="ok"} 1
`, "push_statistics_pushes", "timpush_exporter_statistics_polls_total")

	h.advance(time.Minute, 1) // 5m after the last poll: the new interval
	if n := fc.callCount(); n != 6 {
		t.Errorf("%d calls 5m after the last poll, want 6", n)
	}
	if v, _ := testutil.GatherAndCount(h.reg, "timpush_exporter_statistics_polls_total"); v != 4 {
		t.Errorf("%d polls_total series, want 4 (staging gone)", v)
	}
}

// After a failed poll, a reload polls at once: it may have fixed the cause.
func TestCollectorSetAfterFailurePollsAtOnce(t *testing.T) {
	h := newHarness(t)
	fc := &fakeClient{}
	fc.set(nil, errors.New("70009 bad key"), &timapi.Loss{}, nil)
	p := h.poller("prod", fc, testInterval)
	h.coll.Set([]*Poller{p})
	stop := h.run(p)
	h.clock.BlockUntil(1)
	stop()

	fc.set(stats(1), nil, &timapi.Loss{}, nil)
	p2 := h.poller("prod", fc, testInterval)
	h.coll.Set([]*Poller{p2})
	h.run(p2)
	h.clock.BlockUntil(1)
	if n := fc.callCount(); n != 4 {
		t.Errorf("%d calls, want 4: a poll right after the reload", n)
	}
	if v := h.value("push_statistics_pushes", "all", "total"); v != 1 {
		t.Errorf("total = %v, want 1", v)
	}
}

// A poll cut short by a reload does not count as the last poll: the
// poller taking over makes it at once.
func TestCollectorSetAfterCancelledPollPollsAtOnce(t *testing.T) {
	h := newHarness(t)
	fc := &fakeClient{}
	fc.set(stats(1), nil, &timapi.Loss{}, nil)
	p := h.poller("prod", fc, testInterval)
	h.coll.Set([]*Poller{p})
	stop := h.run(p)
	h.clock.BlockUntil(1)

	blocked := make(chan struct{}, 1)
	fc.mu.Lock()
	fc.blocked = blocked
	fc.mu.Unlock()
	h.clock.Advance(testInterval)
	<-blocked // the second poll hangs in Statistics
	stop()

	fc.mu.Lock()
	fc.blocked = nil
	fc.mu.Unlock()
	fc.set(stats(2), nil, &timapi.Loss{}, nil)
	p2 := h.poller("prod", fc, testInterval)
	h.coll.Set([]*Poller{p2})
	h.run(p2)
	h.clock.BlockUntil(1)
	if n := fc.callCount(); n != 5 {
		t.Errorf("%d calls, want 5: two, the cut one, then two at once after the reload", n)
	}
	if v := h.value("push_statistics_pushes", "all", "total"); v != 2 {
		t.Errorf("total = %v, want 2", v)
	}
}

// A reply that is not JSON is a failed poll through the real client: the
// values stay, the error is counted.
func TestMalformedReplyKeepsValues(t *testing.T) {
	h := newHarness(t)
	api := newFakeAPI(t, statisticsBody, lossBody)
	p := h.poller("prod", newClient(t, api.URL, noLimit{}, h.clock), testInterval)
	h.coll.Set([]*Poller{p})
	h.run(p)
	h.clock.BlockUntil(1)

	api.set(statisticsBody[:len(statisticsBody)/2], `{"ActionStatus":"OK","ErrorCode":0,"ReadyToSendLoss":"nonsense"}`)
	h.advance(testInterval, 1)
	if v := h.value("push_statistics_pushes", "huawei", "total"); v != 400 {
		t.Errorf("huawei total = %v after a cut reply, want 400 (kept)", v)
	}
	if n, _ := testutil.GatherAndCount(h.reg, "push_loss_pushes"); n != 7 {
		t.Errorf("%d loss series after a reply of the wrong shape, want 7 (kept)", n)
	}
	want := map[string]float64{"normal_push_statistics": 1, "normal_push_loss": 1}
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "timpush_exporter_statistics_polls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["result"] == "error" && m.GetCounter().GetValue() != want[l["api"]] {
				t.Errorf("%s errors = %v, want %v", l["api"], m.GetCounter().GetValue(), want[l["api"]])
			}
		}
	}
	if n := h.logs.Count("statistics poll failed"); n != 2 {
		t.Errorf("%d failure log lines, want 2:\n%s", n, h.logs)
	}
}

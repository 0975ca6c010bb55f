package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func statsCall(t *testing.T, s *Simulator, path string, start, end time.Time) result {
	t.Helper()
	return do(t, s, http.MethodPost, path, goodQuery(t), fmt.Sprintf(`{"StartTime":%d,"EndTime":%d}`, start.Unix(), end.Unix()))
}

func TestStatistics(t *testing.T) {
	s, fc := newSim(t, testConfig())
	for range 300 {
		s.NewPush(testApp)
	}
	s.NewPush(otherApp) // another app's pushes are not counted
	fc.Advance(5 * time.Minute)

	var rep struct {
		ActionStatus                                      string
		TotalCount, SentCount, DeliveredCount, ClickCount int
		PlatformStatistics                                []struct {
			PushPlatform                                      int
			TotalCount, SentCount, DeliveredCount, ClickCount int
		}
	}
	statsCall(t, s, PathStatistics, t0, fc.Now()).decode(t, &rep)
	if rep.ActionStatus != "OK" || !(rep.TotalCount > rep.SentCount && rep.SentCount > rep.DeliveredCount && rep.DeliveredCount > rep.ClickCount && rep.ClickCount > 0) {
		t.Fatalf("funnel %+v", rep)
	}
	var sum [4]int
	for _, p := range rep.PlatformStatistics {
		if p.PushPlatform < 1 || p.PushPlatform > 8 {
			t.Errorf("platform %d", p.PushPlatform)
		}
		sum[0] += p.TotalCount
		sum[1] += p.SentCount
		sum[2] += p.DeliveredCount
		sum[3] += p.ClickCount
	}
	if sum != [4]int{rep.TotalCount, rep.SentCount, rep.DeliveredCount, rep.ClickCount} {
		t.Errorf("platforms add up to %v, totals %+v", sum, rep)
	}
	// Delivered equals the device successes the traces show.
	delivered := 0
	for k, p := range s.pushes {
		for _, in := range p.instances {
			if ev := in.stages[stDevice]; k.app == testApp && ev != nil && ev.status == 1 {
				delivered++
			}
		}
	}
	if delivered != rep.DeliveredCount {
		t.Errorf("delivered %d, traces show %d", rep.DeliveredCount, delivered)
	}

	// A window before the pushes is empty; nothing is visible yet at push time.
	var empty struct {
		TotalCount         int
		PlatformStatistics []json.RawMessage
	}
	statsCall(t, s, PathStatistics, t0.Add(-time.Hour), t0.Add(-time.Second)).decode(t, &empty)
	if empty.TotalCount != 0 || empty.PlatformStatistics == nil || len(empty.PlatformStatistics) != 0 {
		t.Errorf("empty window %+v", empty)
	}
}

func TestLoss(t *testing.T) {
	s, fc := newSim(t, testConfig())
	for range 500 {
		s.NewPush(testApp)
	}
	fc.Advance(5 * time.Minute)
	r := statsCall(t, s, PathLoss, t0, fc.Now())

	// ErrCode is a string on the wire.
	var raw map[string]json.RawMessage
	r.decode(t, &raw)
	for _, f := range []string{"ReadyToSendLoss", "PostSendDeliveredLoss", "PlatformReadyToSendLoss", "PlatformPostSendDeliveredLoss"} {
		var list []map[string]any
		if err := json.Unmarshal(raw[f], &list); err != nil || len(list) == 0 {
			t.Fatalf("%s: %s %v", f, raw[f], err)
		}
		for _, e := range list {
			if _, ok := e["ErrCode"].(string); !ok {
				t.Fatalf("%s ErrCode %T", f, e["ErrCode"])
			}
			if _, ok := e["PushPlatform"]; ok != (f[:8] == "Platform") {
				t.Fatalf("%s entry %v", f, e)
			}
		}
	}

	type entry struct {
		PushPlatform int
		ErrCode      string
		ErrCount     int
		ErrInfo      string
	}
	var rep struct{ PostSendDeliveredLoss, PlatformPostSendDeliveredLoss []entry }
	r.decode(t, &rep)
	want := 0
	for _, p := range s.pushes {
		for _, in := range p.instances {
			if ev := in.stages[stDevice]; ev != nil && ev.status == 2 {
				want++
			}
		}
	}
	for _, l := range [][]entry{rep.PostSendDeliveredLoss, rep.PlatformPostSendDeliveredLoss} {
		got := 0
		for _, e := range l {
			got += e.ErrCount
			if e.ErrInfo == "" {
				t.Errorf("entry without ErrInfo %+v", e)
			}
		}
		if got != want {
			t.Errorf("device losses %d, traces show %d", got, want)
		}
	}
	if l := rep.PostSendDeliveredLoss; len(l) > 1 && l[0].ErrCount < l[1].ErrCount {
		t.Errorf("not sorted: %+v", l)
	}
}

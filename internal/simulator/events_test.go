package simulator

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// eventKey is what an event and a trace must agree on.
type eventKey struct {
	instance      string
	platform      int
	stage         string
	code          int
	info, evtTime string
	failed        bool
	pushStage     int
}

var stageOfPushStage = map[int]string{PushStageChannel: "channel", PushStageDevice: "device", PushStageClick: "click"}

// traceEventKeys lists the channel, device and click outcomes of a final
// trace reply as events should show them.
func traceEventKeys(t *testing.T, r result) []eventKey {
	t.Helper()
	var tr traceResp
	r.decode(t, &tr)
	var keys []eventKey
	for _, inst := range tr.InstanceTrace {
		stages := stagesOf(t, inst)
		for ps, name := range stageOfPushStage {
			st, ok := stages[name]
			if !ok || st.PushStatus == 0 {
				continue
			}
			info := "OK"
			if st.PushStatus == 2 {
				info = st.ErrorInfo
			}
			keys = append(keys, eventKey{strField(t, inst, "InstanceId"), intField(t, inst, "PushPlatform"),
				name, st.ErrorCode, info, st.EventTime, st.PushStatus == 2, ps})
		}
	}
	return keys
}

func eventKeys(events []PushEvent) []eventKey {
	var keys []eventKey
	for _, e := range events {
		keys = append(keys, eventKey{e.InstanceID, e.PushPlatform, stageOfPushStage[e.PushStage], e.ErrCode,
			e.ErrInfo, fmtTime(e.EventTime), e.ErrCode != 0, e.PushStage})
	}
	return keys
}

// TestPushEventsAgreeWithTrace: in both modes, the events of a push are
// exactly the channel, device and click outcomes its final trace shows.
func TestPushEventsAgreeWithTrace(t *testing.T) {
	for _, cfg := range []Config{testConfig(), lightConfig()} {
		t.Run(fmt.Sprintf("stateless=%v", cfg.Stateless), func(t *testing.T) {
			s, fc := newSim(t, cfg)
			var ids []string
			for range 200 {
				ids = append(ids, s.NewPush(testApp))
				fc.Advance(100 * time.Millisecond)
			}
			fc.Advance(10 * time.Minute)
			q := goodQuery(t)
			seen := map[string]int{}
			for _, id := range ids {
				events := s.PushEvents(testApp, id)
				want, got := traceEventKeys(t, traceCall(t, s, q, id)), eventKeys(events)
				sortKeys(want)
				sortKeys(got)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s:\nevents %+v\ntrace  %+v", id, got, want)
				}
				checkEventFields(t, id, events)
				for _, k := range got {
					seen[fmt.Sprintf("%s-failed=%v", k.stage, k.failed)]++
				}
			}
			for _, k := range []string{"channel-failed=false", "channel-failed=true", "device-failed=false",
				"device-failed=true", "click-failed=false"} {
				if seen[k] == 0 {
					t.Errorf("never saw %s: %v", k, seen)
				}
			}
			if seen["click-failed=true"] != 0 {
				t.Error("a failed click event")
			}
		})
	}
}

func sortKeys(k []eventKey) {
	sort.Slice(k, func(i, j int) bool { return fmt.Sprint(k[i]) < fmt.Sprint(k[j]) })
}

// checkEventFields checks the body fields that are the same for all events
// of a push, and the delivery times.
func checkEventFields(t *testing.T, id string, events []PushEvent) {
	t.Helper()
	sent, random, _ := parsePushID(id)
	for i, e := range events {
		if e.SDKAppID != testApp || e.PushID != id || e.EventType != EventTypeC2C || e.MsgTime != sent.Unix() ||
			e.MsgRandom != random || e.MsgKey != fmt.Sprintf("%d_%d_%d", e.MsgSeq, random, sent.Unix()) ||
			!strings.HasPrefix(e.FromAccount, "user") || !strings.HasPrefix(e.ToAccount, "user") {
			t.Fatalf("%s: event %+v", id, e)
		}
		if d := e.DeliverAt.Sub(e.EventTime); d < minDeliveryDelay || d > maxDeliveryDelay {
			t.Errorf("%s: delivered %v after the stage", id, d)
		}
		if i > 0 && e.DeliverAt.Before(events[i-1].DeliverAt) {
			t.Errorf("%s: events not ordered by DeliverAt", id)
		}
	}
}

// withDeliverAt is e with the delivery time of like.
func withDeliverAt(e, like PushEvent) PushEvent { e.DeliverAt = like.DeliverAt; return e }

func TestPushEventsUnknown(t *testing.T) {
	s, fc := newSim(t, testConfig())
	id := s.NewPush(testApp)
	if s.PushEvents(testApp, "never-registered") != nil || s.PushEvents(otherApp, id) != nil {
		t.Error("events for an unknown push")
	}
	fc.Advance(traceRetention + time.Second)
	if s.PushEvents(testApp, id) != nil {
		t.Error("events for a push older than 7 days")
	}
}

// TestPushEventsFollowRates: the events show a rate change as the traces
// do, from the next whole second.
func TestPushEventsFollowRates(t *testing.T) {
	for _, cfg := range []Config{testConfig(), lightConfig()} {
		s, fc := newSim(t, cfg)
		s.SetChannelFailure(3, 1)
		s.SetDeviceFailure(6, 1)
		var huawei, oppo int
		for range 300 {
			for _, e := range s.PushEvents(testApp, s.NewPush(testApp)) {
				switch {
				case e.PushPlatform == 3 && (e.PushStage != PushStageChannel || e.ErrCode == 0):
					t.Fatalf("huawei event with channel failure 1: %+v", e)
				case e.PushPlatform == 6 && (e.PushStage == PushStageClick || e.PushStage == PushStageDevice && e.ErrCode == 0):
					t.Fatalf("oppo event with device failure 1: %+v", e)
				case e.PushPlatform == 3:
					huawei++
				case e.PushPlatform == 6 && e.PushStage == PushStageDevice:
					oppo++
				}
			}
			fc.Advance(time.Second)
		}
		if huawei == 0 || oppo == 0 {
			t.Errorf("stateless=%v: %d huawei channel and %d oppo device events", cfg.Stateless, huawei, oppo)
		}
	}
}

func TestCallbackRedelivery(t *testing.T) {
	eventsOf := func(p float64, seed int64) [][]PushEvent {
		cfg := testConfig()
		cfg.Faults.CallbackRedelivery = p
		cfg.Seed = seed
		s, _ := newSim(t, cfg)
		var out [][]PushEvent
		for i := range 300 {
			id := fmt.Sprintf("144115233406643804-%d-%d", t0.Unix(), i)
			s.RegisterPush(testApp, id)
			out = append(out, s.PushEvents(testApp, id))
		}
		return out
	}
	plain, again := eventsOf(0, 42), eventsOf(0.3, 42)
	if !reflect.DeepEqual(plain, eventsOf(0, 42)) || reflect.DeepEqual(plain, eventsOf(0, 7)) {
		t.Fatal("events are not a function of the seed")
	}
	var firsts, copies int
	for i := range plain {
		firsts += len(plain[i])
		seen := map[eventKey]PushEvent{}
		var got []PushEvent // again without its copies: must be plain
		for _, e := range again[i] {
			k := eventKeys([]PushEvent{e})[0]
			first, dup := seen[k]
			if !dup {
				seen[k] = e
				got = append(got, e)
				continue
			}
			copies++
			if d := e.DeliverAt.Sub(first.DeliverAt); withDeliverAt(e, first) != first || d < minRedeliveryDelay || d > maxRedeliveryDelay {
				t.Fatalf("copy %+v of %+v (%v later)", e, first, d)
			}
		}
		if !reflect.DeepEqual(got, plain[i]) {
			t.Fatalf("redelivery moved the first deliveries:\n%+v\n%+v", got, plain[i])
		}
	}
	if r := float64(copies) / float64(firsts); math.Abs(r-0.3) > 0.05 {
		t.Errorf("%d copies of %d events (%.3f), want 0.3", copies, firsts, r)
	}
}

package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"testing"
	"time"
)

var timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)

// findPush registers pushes until one has an instance matching ok.
func findPush(t *testing.T, s *Simulator, ok func(in *instance) bool) (string, *instance) {
	t.Helper()
	for i := range 10000 {
		id := fmt.Sprintf("find-%d", i)
		s.RegisterPush(testApp, id)
		p := s.pushes[pushKey{testApp, id}]
		for j := range p.instances {
			if ok(&p.instances[j]) {
				return id, &p.instances[j]
			}
		}
	}
	t.Fatal("no matching push")
	return "", nil
}

// stageOf returns one instance's stage from a fresh trace reply.
func stageOf(t *testing.T, s *Simulator, id, instID, stage string) (statResp, bool) {
	t.Helper()
	var tr traceResp
	traceCall(t, s, goodQuery(t), id).decode(t, &tr)
	for _, inst := range tr.InstanceTrace {
		if strField(t, inst, "InstanceId") == instID {
			st, ok := stagesOf(t, inst)[stage]
			return st, ok
		}
	}
	t.Fatalf("instance %s missing", instID)
	return statResp{}, false
}

func TestRevealTimes(t *testing.T) {
	s, fc := newSim(t, testConfig())
	id, in := findPush(t, s, func(in *instance) bool {
		c := in.stages[stClick]
		return c != nil && c.status == 1 && in.stages[stDevice].at.Sub(t0) > 3*time.Second
	})
	for _, stage := range []int{stDevice, stClick} {
		ev := in.stages[stage]
		fc.Set(ev.at.Add(-time.Millisecond))
		if st, ok := stageOf(t, s, id, in.id, stageNames[stage]); ok && st.PushStatus != 0 {
			t.Fatalf("%s reported before its time: %+v", stageNames[stage], st)
		}
		fc.Set(ev.at)
		st, ok := stageOf(t, s, id, in.id, stageNames[stage])
		if !ok || st.PushStatus != 1 || st.EventTime != fmtTime(ev.at) {
			t.Fatalf("%s at its time: %+v %v", stageNames[stage], st, ok)
		}
	}
}

func TestStageTiming(t *testing.T) {
	s, _ := newSim(t, testConfig())
	within := func(name string, ev *stageEvent, lo, hi time.Duration) {
		t.Helper()
		if ev == nil || ev.status == 0 {
			return
		}
		if d := ev.at.Sub(t0); d < lo || d > hi {
			t.Fatalf("%s visible at +%v, want %v..%v", name, d, lo, hi)
		}
	}
	for i := range 2000 {
		s.RegisterPush(testApp, strconv.Itoa(i))
	}
	for _, p := range s.pushes {
		for _, in := range p.instances {
			for _, st := range []int{stIM, stOffline, stChannel, stOnlineChannel} {
				within(stageNames[st], in.stages[st], 0, 2*time.Second)
			}
			within("device", in.stages[stDevice], 2*time.Second, 40*time.Second)
			within("click", in.stages[stClick], 10*time.Second, 120*time.Second)
		}
	}
}

func TestDeterminism(t *testing.T) {
	a, fa := newSim(t, testConfig())
	b, fb := newSim(t, testConfig())
	cfg := testConfig()
	cfg.Seed = 7
	c, fcc := newSim(t, cfg)
	q := goodQuery(t)
	for i := range 5 {
		if x, y := a.NewPush(testApp), b.NewPush(testApp); x != y {
			t.Fatalf("NewPush %d: %q vs %q", i, x, y)
		}
	}
	differs := false
	for i := range 20 {
		id := fmt.Sprintf("same-%d", i)
		a.RegisterPush(testApp, id)
		b.RegisterPush(testApp, id)
		c.RegisterPush(testApp, id)
	}
	for _, d := range []time.Duration{0, 5 * time.Second, time.Minute, 5 * time.Minute} {
		fa.Set(t0.Add(d))
		fb.Set(t0.Add(d))
		fcc.Set(t0.Add(d))
		for i := range 20 {
			id := fmt.Sprintf("same-%d", i)
			ra, rb, rc := traceCall(t, a, q, id), traceCall(t, b, q, id), traceCall(t, c, q, id)
			if !bytes.Equal(ra.body, rb.body) {
				t.Fatalf("%s at +%v differs:\n%s\n%s", id, d, ra.body, rb.body)
			}
			differs = differs || !bytes.Equal(ra.body, rc.body)
		}
	}
	if !differs {
		t.Error("another seed gives the same traces")
	}
}

func TestUnknownAndExpiredPush(t *testing.T) {
	s, fc := newSim(t, testConfig())
	const empty = `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","InstanceTrace":[]}`
	if r := traceCall(t, s, goodQuery(t), "never-registered"); string(r.body) != empty {
		t.Fatalf("unknown: %s", r.body)
	}
	s.RegisterPush(testApp, "old")
	// Same ID under another app is another push.
	if r := traceCall(t, s, goodQuery(t), "old"); string(r.body) == empty {
		t.Fatal("registered push answered empty")
	}
	fc.Advance(traceRetention + time.Second)
	if r := traceCall(t, s, goodQuery(t), "old"); string(r.body) != empty {
		t.Fatalf("8 days old: %s", r.body)
	}
}

func TestTraceShape(t *testing.T) {
	s, fc := newSim(t, testConfig())
	q := goodQuery(t)
	const n = 1500
	for i := range n {
		s.RegisterPush(testApp, fmt.Sprintf("shape-%d", i))
	}
	seen := map[string]int{}
	for _, at := range []time.Duration{time.Second, 10 * time.Minute} {
		fc.Set(t0.Add(at))
		for i := range n {
			var tr traceResp
			traceCall(t, s, q, fmt.Sprintf("shape-%d", i)).decode(t, &tr)
			for _, inst := range tr.InstanceTrace {
				checkInstance(t, inst, seen, at)
			}
		}
	}
	want := []string{"snake", "camel", "notif0", "notif1", "online-offline", "device-absent", "device-zero",
		"device-2", "channel-2", "offline-2", "click-1"}
	for p := range numPlatforms {
		want = append(want, fmt.Sprintf("platform-%d", p))
	}
	for _, k := range want {
		if seen[k] == 0 {
			t.Errorf("never saw %s (%v)", k, seen)
		}
	}
	if r := float64(seen["notif0"]) / float64(seen["notif0"]+seen["notif1"]); math.Abs(r-0.10) > 0.03 {
		t.Errorf("notification disabled ratio %.3f", r)
	}
}

func checkInstance(t *testing.T, inst map[string]json.RawMessage, seen map[string]int, at time.Duration) {
	t.Helper()
	if _, err := strconv.Atoi(strField(t, inst, "InstanceId")); err != nil {
		t.Fatalf("InstanceId: %v", err)
	}
	if pt := strField(t, inst, "PushTime"); pt != t0.In(time.FixedZone("", 8*3600)).Format("2006-01-02 15:04:05") {
		t.Fatalf("PushTime %q", pt)
	}
	_, snake := inst["last_active_terminal"]
	_, camel := inst["LastActiveTerminal"]
	if snake == camel {
		t.Fatalf("last active terminal spelled %v/%v", snake, camel)
	}
	seen[map[bool]string{true: "snake", false: "camel"}[snake]]++
	plat := intField(t, inst, "PushPlatform")
	seen[fmt.Sprintf("platform-%d", plat)]++
	if plat == 1 && strField(t, inst, "System") != "APNS" {
		t.Errorf("APNs System %q", strField(t, inst, "System"))
	}
	if at > time.Minute {
		seen[fmt.Sprintf("notif%d", intField(t, inst, "NotificationStatus"))]++
	}
	_, off := inst["OfflinePushStat"]
	_, on := inst["OnlinePushStat"]
	if plat == 0 && off {
		t.Fatal("online-only instance with OfflinePushStat")
	}
	if plat != 0 && on && at > time.Minute {
		seen["online-offline"]++
	}
	stages := stagesOf(t, inst)
	for _, chain := range [][]string{{"im", "offline", "channel", "device", "click"}, {"im", "online_channel", "online_device"}} {
		failed := false
		for _, name := range chain {
			st, ok := stages[name]
			if failed && ok {
				t.Fatalf("%s present after a failure: %v", name, stages)
			}
			if name == "device" && at < time.Minute {
				seen[map[bool]string{true: "device-zero", false: "device-absent"}[ok]]++
			}
			if !ok {
				continue
			}
			switch st.PushStatus {
			case 0:
				if st.ErrorCode != 0 {
					t.Fatalf("unreported %s with code: %+v", name, st)
				}
			case 1, 2:
				if !timeRE.MatchString(st.EventTime) || (st.PushStatus == 1) != (st.ErrorCode == 0) || st.ErrorInfo == "" {
					t.Fatalf("%s: %+v", name, st)
				}
				if at > time.Minute {
					seen[fmt.Sprintf("%s-%d", name, st.PushStatus)]++
				}
				failed = st.PushStatus == 2
			default:
				t.Fatalf("%s PushStatus %d", name, st.PushStatus)
			}
		}
	}
}

func TestDeviceFailureRealism(t *testing.T) {
	s, _ := newSim(t, testConfig())
	rates := func(prefix string, n int) (dev [numPlatforms]float64, channel float64) {
		var fail, total [numPlatforms]int
		var chFail, chTotal int
		for i := range n {
			id := fmt.Sprintf("%s-%d", prefix, i)
			s.RegisterPush(testApp, id)
			for _, in := range s.pushes[pushKey{testApp, id}].instances {
				if ev := in.stages[stChannel]; ev != nil {
					chTotal++
					chFail += ev.status / 2
				}
				if ev := in.stages[stDevice]; ev != nil {
					total[in.platform]++
					fail[in.platform] += ev.status / 2
				}
			}
		}
		for p := range dev {
			dev[p] = float64(fail[p]) / math.Max(1, float64(total[p]))
		}
		return dev, float64(chFail) / float64(chTotal)
	}
	dev, ch := rates("real", 10000)
	if math.Abs(dev[3]-0.15) > 0.03 {
		t.Errorf("huawei device failure %.3f, want 0.15±0.03", dev[3])
	}
	for p := 1; p < numPlatforms; p++ {
		if math.Abs(dev[p]-vendors[p].deviceFail) > 0.06 {
			t.Errorf("%s device failure %.3f, want %.2f", vendors[p].name, dev[p], vendors[p].deviceFail)
		}
	}
	if ch < 0.015 || ch > 0.035 {
		t.Errorf("channel failure %.3f", ch)
	}
	s.SetDeviceFailure(3, 0.5)
	if dev, _ := rates("worse", 3000); math.Abs(dev[3]-0.5) > 0.06 || math.Abs(dev[2]-0.08) > 0.04 {
		t.Errorf("after SetDeviceFailure: huawei %.3f xiaomi %.3f", dev[3], dev[2])
	}
	cfg := testConfig()
	cfg.DeviceFailure = map[int]float64{3: 0, 1: 1}
	s, _ = newSim(t, cfg)
	if dev, _ := rates("cfg", 1000); dev[3] != 0 || dev[1] != 1 {
		t.Errorf("Config.DeviceFailure ignored: huawei %.3f apns %.3f", dev[3], dev[1])
	}
}

package simulator

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"
)

// TestDrawOrderUnchanged pins the traces the default rates generate: the
// fingerprint was printed by the simulator before per-platform channel
// rates existed, so anything tuned on its traces (tests, benchmarks) sees
// the same pushes.
func TestDrawOrderUnchanged(t *testing.T) {
	rates := configuredRates(Config{})
	at := time.Unix(1727580296, 0)
	h := sha256.New()
	for i := range 500 {
		p := generate(42, fmt.Sprintf("fp-%d", i), at, rates)
		for _, d := range []time.Duration{0, 3 * time.Second, 30 * time.Second, 10 * time.Minute} {
			insts, _ := render(p, at.Add(d))
			b, _ := json.Marshal(insts)
			h.Write(b)
		}
	}
	const want = "b3c4eb66b59e0b25b2d2cb0eac4ca48f87d849b838022a08c7d3a9af66c2d8ae"
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != want {
		t.Fatalf("traces changed: fingerprint %s, want %s", got, want)
	}
}

// channelRates registers n pushes and returns the channel failure ratio
// per platform among the instances that reached the channel.
func channelRates(t *testing.T, s *Simulator, prefix string, n int) [numPlatforms]float64 {
	t.Helper()
	var fail, total [numPlatforms]int
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		s.RegisterPush(testApp, id)
		for _, in := range s.pushes[pushKey{testApp, id}].instances {
			if ev := in.stages[stChannel]; ev != nil {
				total[in.platform]++
				fail[in.platform] += ev.status / 2
			}
		}
	}
	var r [numPlatforms]float64
	for p := range r {
		r[p] = float64(fail[p]) / math.Max(1, float64(total[p]))
	}
	return r
}

func TestChannelFailurePerPlatform(t *testing.T) {
	cfg := testConfig()
	cfg.ChannelFailure = map[int]float64{3: 0.4, 1: 0}
	s, fc := newSim(t, cfg)
	r := channelRates(t, s, "cfg", 6000)
	if math.Abs(r[3]-0.4) > 0.04 || r[1] != 0 {
		t.Errorf("Config.ChannelFailure: huawei %.3f (want 0.4), apns %.3f (want 0)", r[3], r[1])
	}
	for _, p := range []int{2, 6, 7} { // the other big vendors keep 2.5 %
		if math.Abs(r[p]-defaultChannelFailure) > 0.015 {
			t.Errorf("%s channel failure %.3f, want %.3f", vendors[p].name, r[p], defaultChannelFailure)
		}
	}

	fc.Advance(time.Second)
	s.SetChannelFailure(3, 0.08)
	s.SetChannelFailure(99, 1) // out of range: ignored
	r = channelRates(t, s, "after", 6000)
	if math.Abs(r[3]-0.08) > 0.025 || r[1] != 0 {
		t.Errorf("after SetChannelFailure: huawei %.3f (want 0.08), apns %.3f (want 0)", r[3], r[1])
	}
}

// TestRateChangeFromNextSecond: a change applies to pushes sent from the
// next whole second (or from now on a whole second), because a push's send
// time is a whole second in both modes.
func TestRateChangeFromNextSecond(t *testing.T) {
	s, fc := newSim(t, testConfig())
	at := func(d time.Duration) failureRates {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.ratesAtLocked(t0.Add(d))
	}
	s.SetDeviceFailure(3, 0.5) // t0 is a whole second: from t0
	fc.Advance(1500 * time.Millisecond)
	s.SetChannelFailure(3, 0.4) // from t0+2s
	s.SetDeviceFailure(2, 0.9)  // same second: amends that entry
	tests := []struct {
		at                      time.Duration
		device3, chan3, device2 float64
	}{
		{-time.Second, 0.15, 0.025, 0.08},
		{0, 0.5, 0.025, 0.08},
		{time.Second, 0.5, 0.025, 0.08},
		{2 * time.Second, 0.5, 0.4, 0.9},
		{time.Hour, 0.5, 0.4, 0.9},
	}
	for _, tt := range tests {
		r := at(tt.at)
		if r.device[3] != tt.device3 || r.channel[3] != tt.chan3 || r.device[2] != tt.device2 {
			t.Errorf("at +%v: huawei device %.3f channel %.3f, xiaomi device %.3f; want %.3f %.3f %.3f",
				tt.at, r.device[3], r.channel[3], r.device[2], tt.device3, tt.chan3, tt.device2)
		}
	}
	if n := len(s.history); n != 3 {
		t.Errorf("history has %d entries, want 3 (configured, t0, t0+2s)", n)
	}
}

// TestRateHistoryStaysShort: changes superseded before the oldest push a
// trace can show are dropped.
func TestRateHistoryStaysShort(t *testing.T) {
	s, fc := newSim(t, testConfig())
	for day := range 30 {
		for h := range 24 {
			s.SetDeviceFailure(3, float64((day*24+h)%10)/10)
			fc.Advance(time.Hour)
		}
	}
	// 7 days of hourly changes, plus the one in force 7 days ago.
	if n := len(s.history); n > 7*24+2 {
		t.Fatalf("history has %d entries after 30 days of hourly changes", n)
	}
	s.mu.Lock()
	r := s.ratesAtLocked(fc.Now().Add(-traceRetention))
	s.mu.Unlock()
	if want := float64((30*24-7*24)%10) / 10; r.device[3] != want {
		t.Errorf("rates 7 days ago: %.1f, want %.1f", r.device[3], want)
	}
}

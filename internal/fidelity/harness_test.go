package fidelity

import (
	"testing"
	"time"
)

var ruleFiles = []string{"../../examples/prometheus/alerts.yml", "../../examples/prometheus/thresholds.yml"}

// TestChannelStepPages is the harness's short scenario: Huawei's channel
// failures step from 8 % to 40 % an hour into a day (the learner's time
// constant and the longest rule window, 1h); the shipped rules page for
// Huawei within 10 minutes, and nothing else pages in the 80 minutes. It
// is short because CI runs it under -race (3 h took 502 s there).
func TestChannelStepPages(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 80 minutes")
	}
	res, err := Run(Scenario{Name: "channel step", Duration: 80 * time.Minute, StartHour: 10, Seed: 1,
		Base: Base{Channel: 0.08, Device: 0.15},
		Step: &Step{At: time.Hour, Platform: Huawei, Stage: "channel", To: 0.40}},
		Options{RuleFiles: ruleFiles, Progress: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("took %s: fired %v, false pages %v, calls %v, yielding %v, over limit %d", res.Took, res.FiredAfter, res.FalsePages, res.Calls, res.Yielding, res.OverLimit)
	if d, ok := res.FiredAfter["TimpushVendorChannelFailureRatioHigh"]; !ok || d > 10*time.Minute {
		t.Errorf("TimpushVendorChannelFailureRatioHigh fired %v after the step (fired: %v), want within 10 min", d, ok)
	}
	if len(res.FalsePages) > 0 {
		t.Errorf("false pages: %v", res.FalsePages)
	}
	if res.OverLimit != 0 {
		t.Errorf("%d calls over the rate limit", res.OverLimit)
	}
}

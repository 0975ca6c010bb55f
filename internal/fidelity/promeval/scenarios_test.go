package promeval

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// at is the simulated time of scrape i.
func at(i int) time.Duration { return time.Duration(i) * 15 * time.Second }

func between(i int, from, to time.Duration) bool { return at(i) >= from && at(i) < to }

// ruleSemantics exercises testdata/rules.yml: `for:`, keep_firing_for, a
// recording rule read by the next one, staleness of a vanished series and
// of failed scrapes.
func ruleSemantics() scenario {
	var requests, errors float64
	return scenario{
		name:      "testdata/rules.yml",
		ruleFiles: []string{"testdata/rules.yml"},
		length:    40 * time.Minute,
		body: func(i int) (string, bool) {
			if i > 0 {
				requests += 300
				switch {
				case at(i) < 10*time.Minute:
					errors += 15
				case at(i) < 20*time.Minute:
					errors += 150
				}
			}
			if between(i, 32*time.Minute, 34*time.Minute) {
				return "", false
			}
			body := counters(requests, errors)
			switch {
			case at(i) < 2*time.Minute:
				body += "temperature 40\n"
			case between(i, 25*time.Minute, 30*time.Minute):
				body += "temperature 35\n"
			case at(i) >= 30*time.Minute:
				body += "temperature 20\n"
			}
			return body, true
		},
	}
}

// shippedAlerts drives examples/prometheus/alerts.yml with an exporter's
// series and one trouble after another: a reload failure, failed
// scrapes, a Huawei channel step, a Xiaomi device step, rejected APNs
// credentials, a paused app, dropped PushIDs and a growing backlog.
func shippedAlerts() scenario {
	x := newExporterSeries()
	return scenario{
		name:      "examples/prometheus/alerts.yml",
		ruleFiles: []string{"../../../examples/prometheus/alerts.yml"},
		length:    100 * time.Minute,
		body: func(i int) (string, bool) {
			x.step(i)
			if between(i, 5*time.Minute, 12*time.Minute) {
				return "", false
			}
			return x.render(i), true
		},
	}
}

// exporterSeries are counters shaped like the exporter's, for app prod.
type exporterSeries struct {
	counters map[string]float64 // by series text
	pending  float64
}

func newExporterSeries() *exporterSeries {
	return &exporterSeries{counters: map[string]float64{}, pending: 500}
}

// step adds one scrape's worth of outcomes (30 per platform and stage,
// 120/min, well above the rules' minimum counts).
func (x *exporterSeries) step(i int) {
	if i == 0 {
		return
	}
	failureRatio := func(platform, stage string) float64 {
		switch {
		case platform == "huawei" && stage == "channel" && between(i, 20*time.Minute, 60*time.Minute):
			return 0.4
		case platform == "xiaomi" && stage == "device" && between(i, 10*time.Minute, 60*time.Minute):
			return 0.4
		case stage == "device":
			return 0.1
		}
		return 0.03
	}
	for _, platform := range []string{"apns", "fcm", "huawei", "xiaomi"} {
		for _, stage := range []string{"channel", "device"} {
			x.add(fmt.Sprintf(`push_stage_total{app="prod",platform=%q,stage=%q}`, platform, stage), 30)
			x.add(fmt.Sprintf(`push_stage_failures_total{app="prod",error_code="1",platform=%q,reason="token_invalid",stage=%q}`, platform, stage),
				30*failureRatio(platform, stage))
		}
		x.add(fmt.Sprintf(`push_instances_total{app="prod",platform=%q}`, platform), 30)
		x.add(fmt.Sprintf(`push_notification_disabled_total{app="prod",platform=%q}`, platform), 1)
	}
	if between(i, 30*time.Minute, 50*time.Minute) {
		x.add(`push_stage_failures_total{app="prod",error_code="InvalidProviderToken",platform="apns",reason="auth_or_certificate",stage="channel"}`, 15)
	}
	x.add(`timpush_exporter_pushids_sampled_total{app="prod"}`, 20)
	if between(i, 50*time.Minute, 80*time.Minute) {
		x.add(`timpush_exporter_pushids_dropped_total{app="prod",reason="queue_full"}`, 1)
	}
	if at(i) >= 60*time.Minute {
		x.pending += 100
	}
}

func (x *exporterSeries) add(series string, n float64) { x.counters[series] += n }

func (x *exporterSeries) render(i int) string {
	var lines []string
	for s, v := range x.counters {
		lines = append(lines, s+" "+formatFloat(v))
	}
	sort.Strings(lines)
	up, reload := 1, 1
	if between(i, 40*time.Minute, 55*time.Minute) {
		up = 0
	}
	if between(i, 15*time.Minute, 30*time.Minute) {
		reload = 0
	}
	lines = append(lines,
		fmt.Sprintf(`timpush_exporter_app_up{app="prod"} %d`, up),
		fmt.Sprintf(`timpush_exporter_config_last_reload_successful %d`, reload),
		`timpush_exporter_pending_pushids{app="prod"} `+formatFloat(x.pending),
	)
	return strings.Join(lines, "\n") + "\n"
}

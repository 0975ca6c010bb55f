package ledger

import (
	"strconv"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// countLocked counts every stage outcome of tr not counted before for r's
// push, and returns how many it counted.
func (l *Ledger) countLocked(b *book, r ref, tr *timapi.Trace) int {
	app := b.cfg.Name
	counted := 0
	for i := range tr.Instances {
		inst := &tr.Instances[i]
		idx := b.p.instance(r, instanceID(inst, i))
		var is instance
		if idx >= 0 {
			is = b.p.instances(r)[idx]
		}
		platform := timapi.PlatformName(inst.PushPlatform)
		if is.counted&bitInstance == 0 {
			is.counted |= bitInstance
			is.platform = int16(inst.PushPlatform)
			l.series.add(seriesKey{metric: mInstances, app: app, platform: platform}, 1)
			// NotificationStatus is documented only as "whether the
			// notification bar was enabled"; we read it as a boolean, 0 = off.
			if inst.NotificationStatus == 0 {
				l.series.add(seriesKey{metric: mNotificationDisabled, app: app, platform: platform}, 1)
			}
		}
		for s := timapi.Stage(0); s < timapi.NumStages; s++ {
			res := inst.Stages[s]
			bit := uint16(1) << s
			if !res.Reported() || is.counted&bit != 0 {
				continue
			}
			is.counted |= bit
			if res.Status == timapi.StatusSuccess {
				is.succeeded |= bit
			}
			l.countStageLocked(b, r, platform, inst, s, res)
			counted++
		}
		if idx >= 0 {
			b.p.setInstance(r, idx, is)
		}
	}
	return counted
}

func (l *Ledger) countStageLocked(b *book, r ref, platform string, inst *timapi.Instance, s timapi.Stage, res timapi.StageResult) {
	app, stage := b.cfg.Name, s.String()
	l.series.add(seriesKey{metric: mStage, app: app, platform: platform, stage: stage}, 1)
	if res.Status == timapi.StatusFailure {
		k := seriesKey{metric: mFailures, app: app, platform: platform, stage: stage,
			extra:  l.errorCodeLocked(b, timapi.CodeLabel(res.ErrorCode)),
			reason: l.reasons.Reason(platform, stage, res.ErrorCode, res.ErrorInfo)}
		l.series.add(k, 1)
		l.series.exemplars[k] = exemplar{pushID: b.p.pushID(r), at: l.clock.Now()}
	}
	if !inst.PushTime.IsZero() && !res.EventTime.IsZero() {
		// Clocks of vendors and IM servers disagree; a negative delay
		// carries no information and is not observed.
		if d := res.EventTime.Sub(inst.PushTime); d >= 0 {
			l.series.observe(seriesKey{metric: mLatency, app: app, platform: platform, stage: stage}, d.Seconds())
		}
	}
}

// errorCodeLocked caps the distinct error_code values of an app: vendors
// have hundreds of codes, and an unbounded label would blow up Prometheus.
func (l *Ledger) errorCodeLocked(b *book, code string) string {
	if _, ok := b.errorCodes[code]; ok {
		return code
	}
	if len(b.errorCodes) >= l.opts.MaxErrorCodes {
		return "other"
	}
	b.errorCodes[code] = struct{}{}
	return code
}

// finishLocked forgets a push that is done, counting the stages still
// unreported after a successful one, so that dashboards can tell "unknown"
// from "failed" (push_stage_unreported_total). It stays in the dedup set.
func (l *Ledger) finishLocked(b *book, r ref) {
	for _, is := range b.p.instances(r) {
		if is.counted&bitInstance == 0 {
			continue
		}
		platform := timapi.PlatformName(int(is.platform))
		for _, ch := range stageChains {
			for i := 0; i+1 < len(ch); i++ {
				prev, next := ch[i], ch[i+1]
				if is.succeeded&(1<<prev) != 0 && is.counted&(1<<next) == 0 {
					l.series.add(seriesKey{metric: mUnreported, app: b.cfg.Name, platform: platform, stage: next.String()}, 1)
				}
			}
		}
	}
	l.removeLocked(b, r)
}

func instanceID(inst *timapi.Instance, i int) string {
	if inst.InstanceID != "" {
		return inst.InstanceID
	}
	// Not documented to be always present; fall back to the position.
	return "#" + strconv.Itoa(i)
}

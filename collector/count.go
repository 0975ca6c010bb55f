package collector

import (
	"strconv"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// countLocked counts every stage outcome of tr not counted before for this
// push, and reports whether the push is complete: every instance has all
// the stages it is still expected to report.
func (c *Collector) countLocked(st *appState, e *entry, tr *timapi.Trace) bool {
	app := st.cfg.Name
	complete := len(tr.Instances) > 0
	for i := range tr.Instances {
		inst := &tr.Instances[i]
		is := e.instance(instanceID(inst, i))
		platform := timapi.PlatformName(inst.PushPlatform)
		if is.counted&bitInstance == 0 {
			is.counted |= bitInstance
			is.platform = int16(inst.PushPlatform)
			c.series.add(seriesKey{metric: mInstances, app: app, platform: platform}, 1)
			// NotificationStatus is documented only as "whether the
			// notification bar was enabled"; we read it as a boolean, 0 = off.
			if inst.NotificationStatus == 0 {
				c.series.add(seriesKey{metric: mNotificationDisabled, app: app, platform: platform}, 1)
			}
		}
		for s := timapi.Stage(0); s < timapi.NumStages; s++ {
			r := inst.Stages[s]
			bit := uint16(1) << s
			if !r.Reported() || is.counted&bit != 0 {
				continue
			}
			is.counted |= bit
			if r.Status == timapi.StatusSuccess {
				is.succeeded |= bit
			}
			c.countStageLocked(st, e, platform, inst, s, r)
		}
		if len(missingStages(inst)) > 0 {
			complete = false
		}
	}
	c.markDirty(st, e)
	return complete
}

func (c *Collector) countStageLocked(st *appState, e *entry, platform string, inst *timapi.Instance, s timapi.Stage, r timapi.StageResult) {
	app, stage := st.cfg.Name, s.String()
	c.series.add(seriesKey{metric: mStage, app: app, platform: platform, stage: stage}, 1)
	if r.Status == timapi.StatusFailure {
		k := seriesKey{metric: mFailures, app: app, platform: platform, stage: stage, extra: c.errorCodeLocked(st, r.ErrorCode),
			reason: c.reasons.Reason(platform, stage, r.ErrorCode, r.ErrorInfo)}
		c.series.add(k, 1)
		c.series.exemplars[k] = exemplar{pushID: e.pushID, at: c.clock.Now()}
	}
	if !inst.PushTime.IsZero() && !r.EventTime.IsZero() {
		// Clocks of vendors and IM servers disagree; a negative delay
		// carries no information and is not observed.
		if d := r.EventTime.Sub(inst.PushTime); d >= 0 {
			c.series.observe(seriesKey{metric: mLatency, app: app, platform: platform, stage: stage}, d.Seconds())
		}
	}
}

// errorCodeLocked caps the distinct error_code values of an app: vendors
// have hundreds of codes, and an unbounded label would blow up Prometheus.
func (c *Collector) errorCodeLocked(st *appState, code int) string {
	s := timapi.CodeLabel(code)
	if _, ok := st.errorCodes[s]; ok {
		return s
	}
	if len(st.errorCodes) >= c.opts.MaxErrorCodes {
		return "other"
	}
	st.errorCodes[s] = struct{}{}
	return s
}

// missingStages lists the stages an instance is still expected to report:
// the one after a successful stage that has no outcome yet. Clicks are
// expected after a delivery but may never come; the requery schedule
// bounds how long we wait for them.
func missingStages(inst *timapi.Instance) []timapi.Stage {
	var out []timapi.Stage
	for _, ch := range stageChains {
		for i := 0; i+1 < len(ch); i++ {
			if inst.Stages[ch[i]].Status == timapi.StatusSuccess && !inst.Stages[ch[i+1]].Reported() {
				out = append(out, ch[i+1])
			}
		}
	}
	return out
}

// stageChains are the two routes a push takes, in order.
var stageChains = [][]timapi.Stage{
	{timapi.StageIM, timapi.StageOffline, timapi.StageChannel, timapi.StageDevice, timapi.StageClick},
	{timapi.StageOnlineChannel, timapi.StageOnlineDevice},
}

// countUnreportedLocked counts, when a push is finished, the stages still
// unreported after a successful one, so dashboards can tell "unknown" from
// "failed" (push_stage_unreported_total).
func (c *Collector) countUnreportedLocked(st *appState, e *entry) {
	for _, is := range e.instanceList() {
		if is.counted&bitInstance == 0 {
			continue
		}
		platform := timapi.PlatformName(int(is.platform))
		for _, ch := range stageChains {
			for i := 0; i+1 < len(ch); i++ {
				prev, next := ch[i], ch[i+1]
				if is.succeeded&(1<<prev) != 0 && is.counted&(1<<next) == 0 {
					c.series.add(seriesKey{metric: mUnreported, app: st.cfg.Name, platform: platform, stage: next.String()}, 1)
				}
			}
		}
	}
}

func instanceID(inst *timapi.Instance, i int) string {
	if inst.InstanceID != "" {
		return inst.InstanceID
	}
	// Not documented to be always present; fall back to the position.
	return "#" + strconv.Itoa(i)
}

func (e *entry) instance(id string) *instanceState {
	if e.instances == nil {
		e.instances = new([]instanceState)
	}
	list := *e.instances
	for i := range list {
		if list[i].id == id {
			return &list[i]
		}
	}
	*e.instances = append(list, instanceState{id: id})
	return &(*e.instances)[len(list)]
}

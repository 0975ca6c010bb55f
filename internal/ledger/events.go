package ledger

import (
	"strconv"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Tencent's push callback reports every push's stage outcomes in real
// time, unsampled, and retries a callback it could not deliver, so the same
// event can arrive twice. An event is counted the first time its Key is
// seen. The keys are remembered by the minute of their EventTime for
// Options.EventWindow (6 h) and at most Options.MaxEvents (2,000,000) per
// app: a busy app's window shrinks to what the cap holds (33 minutes at
// Tencent's default 1,000 callbacks/s). An event older than what is
// remembered cannot be told from a redelivery; it is not counted, and is
// counted as ignored (too_old) instead, so that no event is ever counted
// twice.
const eventSlot = time.Minute

func newEventSet(o Options) *timeSet { return newTimeSet(eventSlot, o.MaxEvents, o.EventWindow) }

// countEventLocked counts one callback event, unless it was counted before.
func (l *Ledger) countEventLocked(e *pushid.Event) {
	b := l.books[e.App]
	if b == nil {
		l.metrics.eventsIgnored.WithLabelValues(e.App, "unknown_app").Inc()
		return
	}
	if b.events.slot(e.Time) < b.events.floor {
		l.metrics.eventsIgnored.WithLabelValues(e.App, "too_old").Inc()
		return
	}
	if !b.events.add(e.Key, e.Time) {
		l.metrics.eventsIgnored.WithLabelValues(e.App, "duplicate").Inc()
		return
	}
	platform := timapi.PlatformName(e.Platform)
	stage := strconv.Itoa(e.Stage)
	l.series.add(seriesKey{metric: mCallbackEvents, app: e.App, platform: platform, stage: stage}, 1)
	if e.Failed() {
		code := e.ErrCode
		l.series.add(seriesKey{metric: mCallbackFailures, app: e.App, platform: platform, stage: stage,
			extra: l.errorCodeLocked(b, timapi.CodeLabel(int(code))), // one rule for both families
			// The trace's stage names do not apply: PushStage's meaning is
			// not documented. The taxonomy's stage-independent rows do.
			reason: l.reasons.Reason(platform, "", int(code), e.ErrInfo)}, 1)
	}
}

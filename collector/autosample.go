package collector

import (
	"math"
	"time"
)

const (
	// autoTuneEvery is how often an automatic sample ratio is recomputed.
	autoTuneEvery = 5 * time.Second
	// autoBudgetShare is the share of rate_limit that sampled PushIDs are
	// meant to use. Sampled PushIDs arrive at random: at 95 % load a queue
	// sometimes holds a minute of work, at 90 % almost never. The rest of
	// the budget absorbs bursts, retries, trace-page lookups and the
	// statistics poller, and otherwise serves late work, so calls still
	// run at the full rate whenever there is work.
	autoBudgetShare = 0.90
	// autoDrainWithin is how fast due work that piled up (after a surge,
	// say) is to be worked off: while it drains, fewer new PushIDs are
	// sampled, so that every one is first queried within query_delay plus
	// about a minute (queue.go's lateAfter).
	autoDrainWithin = 30 * time.Second
	// autoQueueFor is how much due work, in seconds of calls, counts as the
	// normal queue of a busy budget rather than a pile-up: sampled PushIDs
	// arrive at random, so at 90 % load a few are always waiting their
	// turn. Only the backlog beyond it is drained. (Draining all of it
	// settled the ratio near 60 % of the budget.)
	autoQueueFor = 20 * time.Second
	// autoRateWindow is the time constant of the arrival-rate average.
	autoRateWindow = time.Minute
	// autoMinRatio keeps a trickle of samples even under a flood.
	autoMinRatio = 1e-4
	// autoMaxStep bounds how fast the ratio grows between two tunings;
	// cuts apply at once, to protect the budget.
	autoMaxStep = 2.0
	// autoCutEvery arrivals, the ratio is checked against a burst (cut).
	autoCutEvery = 100
)

// autoSampler chooses an app's sample ratio so that the expected calls —
// first queries plus requeries — fill the rate_limit budget with a little
// headroom, and the backlog of due work stays short.
//
// ratio = (budget − pile-up / autoDrainWithin) / (arrival rate × calls per
// sampled push): the budget left after working off due work beyond the
// normal queue. Calls per push
// is learnt from what finished pushes actually cost (a push whose stages
// all arrive early costs one call; one that waits for clicks costs
// 1 + len(requery_after)).
type autoSampler struct {
	ratio        float64
	arrivalRate  float64 // PushIDs offered per second, averaged
	callsPerPush float64 // averaged
	arrivals     float64 // since the last tuning
	calls        float64
	finished     float64
	last         time.Time
}

func newAutoSampler(requeries int, now time.Time) *autoSampler {
	return &autoSampler{ratio: 1, callsPerPush: float64(1 + requeries), last: now}
}

// tune recomputes the ratio every autoTuneEvery; backlog is the number of
// entries due and not yet late (queue.ready). It returns whether it ran.
func (a *autoSampler) tune(now time.Time, rateLimit float64, backlog int) bool {
	dt := now.Sub(a.last)
	if dt < autoTuneEvery {
		return false
	}
	a.last = now
	alpha := 1 - math.Exp(-dt.Seconds()/autoRateWindow.Seconds())
	// A surge is followed at once (it would flood the budget); a lull is
	// followed slowly (a pause between bursts should not open the tap).
	if inst := a.arrivals / dt.Seconds(); inst > a.arrivalRate {
		a.arrivalRate = inst
	} else {
		a.arrivalRate += alpha * (inst - a.arrivalRate)
	}
	if a.finished >= 1 {
		a.callsPerPush += alpha * (a.calls/a.finished - a.callsPerPush)
		a.callsPerPush = max(a.callsPerPush, 1)
	}
	a.arrivals, a.calls, a.finished = 0, 0, 0

	target := a.target(a.arrivalRate, rateLimit, backlog)
	if target > a.ratio {
		target = min(target, a.ratio*autoMaxStep)
	}
	a.ratio = target
	return true
}

// target is the ratio that fits arrivals per second into the budget.
func (a *autoSampler) target(arrivals, rateLimit float64, backlog int) float64 {
	pileUp := max(float64(backlog)-rateLimit*autoQueueFor.Seconds(), 0)
	budget := rateLimit*autoBudgetShare - pileUp/autoDrainWithin.Seconds()
	target := 1.0
	if demand := arrivals * a.callsPerPush; demand > 0 {
		target = budget / demand
	}
	return min(max(target, autoMinRatio), 1)
}

// cut lowers the ratio at once, between tunings, when the arrivals since
// the last tuning already outrun the averaged rate: a burst (a log read
// from its beginning, a webhook backlog) must not be sampled at the old
// ratio for up to autoTuneEvery. The rate is measured over at least a
// second and must be well above the average, so that batches arriving
// together (a webhook's hundred IDs a second) do not read as a flood.
func (a *autoSampler) cut(now time.Time, rateLimit float64, backlog int) {
	dt := max(now.Sub(a.last), time.Second)
	inst := a.arrivals / dt.Seconds()
	if inst <= 3*a.arrivalRate {
		return
	}
	a.ratio = min(a.ratio, a.target(inst, rateLimit, backlog))
}

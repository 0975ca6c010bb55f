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
	// autoCostWindow is the time constant of the counts that calls per push
	// is learnt from: at 1 call/s a minute holds too few requeries of each
	// step to tell what they cost.
	autoCostWindow = 10 * time.Minute
	// autoMinRatio keeps a trickle of samples even under a flood.
	autoMinRatio = 1e-4
	// autoMaxStep bounds how fast the ratio grows between two tunings;
	// cuts apply at once, to protect the budget.
	autoMaxStep = 2.0
)

// autoSampler chooses an app's sample ratio so that the expected calls —
// first queries plus requeries — fill the rate_limit budget with a little
// headroom, and the backlog of due work stays short.
//
// ratio = (budget − pile-up / autoDrainWithin) / (arrival rate × calls per
// sampled push): the budget left after working off due work beyond the
// normal queue.
//
// Calls per push is learnt step by step: for each query step (first query,
// each requery) the share of queries after which the push still needed
// another one, and the share of calls that failed and will be repeated. A
// push then costs 1 + p0 + p0·p1 + ..., divided by the success share. A step
// with too few recent queries to tell counts as always continuing, so the
// estimate starts high and falls as the requeries show what they cost.
// (Learning from finished pushes instead waited half an hour for the last
// requery, and while the ratio moved it kept seeing the old cost: the ratio
// settled at a third of the budget.)
type autoSampler struct {
	ratio       float64
	arrivalRate float64 // PushIDs offered per second, averaged
	arrivals    float64 // since the last tuning
	// Counts decayed with autoCostWindow:
	calls     float64   // calls made, failed ones included
	succeeded float64   // queries that got a trace
	reached   []float64 // [step] queries that got a trace at that step
	continued []float64 // [step] of those, the ones whose push needed another query
	last      time.Time
}

// autoMinQueries is how many recent queries of a step it takes before
// their continuation share is trusted.
const autoMinQueries = 5

func newAutoSampler(requeries int, now time.Time) *autoSampler {
	return &autoSampler{ratio: 1, last: now,
		reached: make([]float64, requeries+1), continued: make([]float64, requeries+1)}
}

// called counts one call, whatever its outcome.
func (a *autoSampler) called() { a.calls++ }

// queried counts a query at step that got a trace, and whether its push
// still needs another query.
func (a *autoSampler) queried(step int, more bool) {
	a.succeeded++
	if step < 0 || step >= len(a.reached) {
		return
	}
	a.reached[step]++
	if more {
		a.continued[step]++
	}
}

// callsPerPush is the expected number of calls a sampled push costs.
func (a *autoSampler) callsPerPush() float64 {
	cost, reach := 0.0, 1.0
	for k := range a.reached {
		cost += reach
		p := 1.0
		if a.reached[k] >= autoMinQueries {
			p = a.continued[k] / a.reached[k]
		}
		reach *= p
	}
	if a.succeeded >= autoMinQueries && a.calls > a.succeeded {
		cost *= a.calls / a.succeeded
	}
	return max(cost, 1)
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
	keep := math.Exp(-dt.Seconds() / autoCostWindow.Seconds())
	a.calls *= keep
	a.succeeded *= keep
	for k := range a.reached {
		a.reached[k] *= keep
		a.continued[k] *= keep
	}
	a.arrivals = 0

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
	if demand := arrivals * a.callsPerPush(); demand > 0 {
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

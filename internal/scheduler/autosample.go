package scheduler

import (
	"math"
	"sync"
	"time"
)

const (
	// autoTuneEvery is how often an automatic sample ratio is recomputed.
	autoTuneEvery = 5 * time.Second
	// autoBudgetShare is the share of rate_limit that first queries are
	// meant to use. Sampled PushIDs arrive at random: at 95 % load a queue
	// sometimes holds a minute of work, at 90 % almost never. The rest of
	// the budget absorbs bursts, retries, trace-page lookups and the
	// statistics poller, and otherwise goes to the requeries that reveal
	// most, so calls still run at the full rate whenever there is work.
	autoBudgetShare = 0.90
	// autoDrainWithin is how fast due work that piled up (after a surge,
	// say) is to be worked off: while it drains, fewer new PushIDs are
	// sampled, so that every one is first queried within query_delay plus
	// about a minute.
	autoDrainWithin = 30 * time.Second
	// autoQueueFor is how much due work, in seconds of calls, counts as the
	// normal queue of a busy budget rather than a pile-up: at 90 % load a
	// few are always waiting their turn. Only the backlog beyond it is
	// drained. (Draining all of it settled the ratio near 60 % of the
	// budget.)
	autoQueueFor = 20 * time.Second
	// autoRateWindow is the time constant of the arrival-rate average.
	autoRateWindow = time.Minute
	// autoCostWindow is the time constant of the counts the cost of a push
	// is learnt from.
	autoCostWindow = 10 * time.Minute
	// autoMinRatio keeps a trickle of samples even under a flood.
	autoMinRatio = 1e-4
	// autoMaxStep bounds how fast the ratio grows between two tunings;
	// cuts apply at once, to protect the budget.
	autoMaxStep = 2.0
	// autoPriorCost is the calls a sampled push is assumed to cost before
	// any is measured, as autoPriorWeight pushes' worth: a little above
	// what a push costs when requeries only use the budget's slack, so
	// that a new app starts below its budget rather than above it.
	autoPriorCost   = 1.5
	autoPriorWeight = 5.0
)

// autoSampler chooses an app's sample ratio so that its first queries fill
// autoBudgetShare of rate_limit and the backlog of due work stays short:
//
//	ratio = (budget − pile-up / autoDrainWithin) / (arrival rate × calls per push)
//
// A sampled push costs its first query, its failed attempts, and the
// requeries the policy preferred to a waiting first query (those that were
// worth more). Requeries made with the budget's slack, when no first query
// was waiting, cost nothing that sampling could buy: counting them (as an
// earlier version did) let requeries for clicks take two thirds of the
// budget.
type autoSampler struct {
	mu          sync.Mutex
	ratio       float64
	arrivalRate float64 // PushIDs offered per second, averaged
	arrivals    float64 // since the last tuning
	// Decayed with autoCostWindow: calls that compete with first queries
	// (first-query attempts and displacing requeries), and first queries
	// that got a trace.
	competing, firsts float64
	// distinct is the share of arrivals that are pushes not seen before,
	// learnt from the sampled ones (see tune); fresh and dups are the
	// ledger's counts at the last tuning.
	distinct, fresh, dups float64
	last                  time.Time
}

func newAutoSampler(now time.Time) *autoSampler {
	return &autoSampler{ratio: 1, distinct: 1, fresh: -1, last: now}
}

func (a *autoSampler) get() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ratio
}

// called counts one call that competed with first queries.
func (a *autoSampler) called() {
	a.mu.Lock()
	a.competing++
	a.mu.Unlock()
}

// firstDone counts a first query that got a trace.
func (a *autoSampler) firstDone() {
	a.mu.Lock()
	a.firsts++
	a.mu.Unlock()
}

// callsPerPush is the expected number of competing calls a sampled push costs.
func (a *autoSampler) callsPerPush() float64 {
	return max((a.competing+autoPriorCost*autoPriorWeight)/(a.firsts+autoPriorWeight), 1)
}

// arrive counts n arrivals and cuts the ratio at once when the arrivals
// since the last tuning already outrun the averaged rate: a burst (a log
// read from its beginning, a webhook backlog) must not be sampled at the
// old ratio for up to autoTuneEvery. The rate is measured over at least a
// second and must be well above the average, so that batches arriving
// together do not read as a flood.
func (a *autoSampler) arrive(n int, now time.Time, rateLimit float64, backlog func() int) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.arrivals += float64(n)
	dt := max(now.Sub(a.last), time.Second)
	if inst := a.arrivals * a.distinct / dt.Seconds(); inst > 3*a.arrivalRate {
		a.ratio = min(a.ratio, a.target(inst, rateLimit, backlog()))
	}
	return a.ratio
}

// tune recomputes the ratio every autoTuneEvery; backlog is the number of
// first queries due and not yet late; fresh and dups are the ledger's
// counts of sampled PushIDs taken and found to be duplicates. It returns
// whether it ran.
//
// The same push may arrive many times: in a log and in Tencent's callbacks,
// and in each of its callback events. Sampling is by hash, so the share of
// sampled arrivals that were new is the share of all arrivals that were:
// the rate the budget is fitted to is the arrival rate times that share.
func (a *autoSampler) tune(now time.Time, rateLimit float64, backlog int, fresh, dups float64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	dt := now.Sub(a.last)
	if dt < autoTuneEvery {
		return false
	}
	a.last = now
	alpha := 1 - math.Exp(-dt.Seconds()/autoRateWindow.Seconds())
	if a.fresh >= 0 {
		if df, dd := fresh-a.fresh, dups-a.dups; df+dd > 0 {
			a.distinct += alpha * (df/(df+dd) - a.distinct)
		}
	}
	a.fresh, a.dups = fresh, dups
	a.arrivals *= a.distinct
	// A surge is followed at once (it would flood the budget); a lull is
	// followed slowly (a pause between bursts should not open the tap).
	if inst := a.arrivals / dt.Seconds(); inst > a.arrivalRate {
		a.arrivalRate = inst
	} else {
		a.arrivalRate += alpha * (inst - a.arrivalRate)
	}
	keep := math.Exp(-dt.Seconds() / autoCostWindow.Seconds())
	a.competing *= keep
	a.firsts *= keep
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

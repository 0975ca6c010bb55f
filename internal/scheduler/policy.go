package scheduler

import (
	"math"
	"time"

	"github.com/timpush/timpush_exporter/internal/ledger"
)

// The policy spends each call where the new stage outcomes are. It learns,
// from the queries it makes, how many new outcomes a first query brings and,
// per requery step and per stage a push still misses, how often a requery
// revealed that stage; a class of due work is then worth the expected
// number of outcomes one query of it reveals (ledger.Policy). A fresh first
// query (a whole trace: four or five outcomes per device) beats a requery
// that may reveal one; a click is never owed: a push that waits only for
// clicks is requeried only while the learnt odds of a click, times the
// devices waiting for one, are worth a call.
const (
	// minYield is the least a call must be expected to bring: a requery
	// that reveals something less than once in 20 is skipped.
	minYield = 0.05
	// learnWindow is the time constant of the decaying counts: long
	// enough to hold a few dozen requeries of a step even when requeries
	// get only the budget's slack, short enough to follow a vendor whose
	// reports slow down.
	learnWindow = time.Hour
	// Priors, as pseudo-counts: a step that was not tried recently is
	// assumed to reveal half of what it waits for, so it is tried, and a
	// first query to bring three outcomes.
	priorReveal = 0.5
	priorFirst  = 3.0
	priorWeight = 2.0
)

// learner is one app's policy. Only its worker uses it.
type learner struct {
	firstOutcomes, firstQueries float64
	// tried and revealed, per requery step (index k-1) and stage.
	tried, revealed [][ledger.NumMissing]float64
	last            time.Time
	owedClicks      bool // Options.OwedClicks
}

func newLearner(requeries int, now time.Time, owedClicks bool) *learner {
	return &learner{
		tried:      make([][ledger.NumMissing]float64, requeries),
		revealed:   make([][ledger.NumMissing]float64, requeries),
		last:       now,
		owedClicks: owedClicks,
	}
}

// resize follows a changed requery_after, keeping what still applies.
func (l *learner) resize(requeries int) {
	for len(l.tried) < requeries {
		l.tried = append(l.tried, [ledger.NumMissing]float64{})
		l.revealed = append(l.revealed, [ledger.NumMissing]float64{})
	}
	l.tried, l.revealed = l.tried[:requeries], l.revealed[:requeries]
}

// Yield implements ledger.Policy.
func (l *learner) Yield(c ledger.Class) float64 {
	if l.owedClicks { // every due query, requeries (older work) first
		if c.Step == 0 {
			return 1
		}
		return 2
	}
	if c.Step == 0 {
		return (l.firstOutcomes + priorFirst*priorWeight) / (l.firstQueries + priorWeight)
	}
	k := c.Step - 1
	if k >= len(l.tried) {
		return 0
	}
	y := 0.0
	for s, m := range c.Missing {
		if m > 0 {
			y += m * (l.revealed[k][s] + priorReveal*priorWeight) / (l.tried[k][s] + priorWeight)
		}
	}
	if y < minYield {
		return 0
	}
	return y
}

// learn records what one query at step brought.
func (l *learner) learn(now time.Time, step int, res ledger.Result) {
	l.decay(now)
	if step == 0 {
		l.firstQueries++
		l.firstOutcomes += float64(res.New)
		return
	}
	if k := step - 1; k < len(l.tried) {
		for s := range res.Tried {
			l.tried[k][s] += float64(res.Tried[s])
			l.revealed[k][s] += float64(res.Revealed[s])
		}
	}
}

func (l *learner) decay(now time.Time) {
	dt := now.Sub(l.last)
	if dt <= 0 {
		return
	}
	l.last = now
	keep := math.Exp(-dt.Seconds() / learnWindow.Seconds())
	l.firstOutcomes *= keep
	l.firstQueries *= keep
	for k := range l.tried {
		for s := range l.tried[k] {
			l.tried[k][s] *= keep
			l.revealed[k][s] *= keep
		}
	}
}

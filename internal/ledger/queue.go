package ledger

import (
	"time"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// lateAfter is how long due first queries are served in order. One due
// longer ago is late: served only when nothing fresher is due, freshest
// first. So a budget that keeps up serves every PushID within about a minute
// of its due time, and one that cannot keep up spends its calls on fresh
// PushIDs, keeping alerts timely, instead of on a backlog.
const lateAfter = time.Minute

// NoTrace is the index in Class.Missing of a push whose trace listed no
// instance yet (Tencent's data had not arrived).
const NoTrace = int(timapi.NumStages)

// NumMissing is the length of Class.Missing: the stages, and NoTrace.
const NumMissing = NoTrace + 1

// queues orders an app's pending records by what is due. Records that are
// not yet due wait in one heap. Due first queries are served from fresh (in
// order) or late. Due requeries are grouped into classes by requery step and
// by which stages they wait for, because what a requery is worth depends on
// both: the scheduler scores each class (Policy) and the ledger serves the
// best one's oldest member.
type queues struct {
	waiting refHeap // not yet due, earliest first
	fresh   refHeap // due first queries, not late, earliest first
	late    refHeap // due first queries, late, latest first
	classes []*class
	byKey   map[classKey]uint16
}

// classKey groups due requeries: the step, and the set of what they wait
// for (bit s: some instance misses stage s; bit NoTrace: no instance yet).
type classKey struct {
	step uint16
	mask uint8
}

type class struct {
	key  classKey
	heap refHeap // earliest due (so oldest) first
	// missing sums, over the members, the instances missing each stage.
	missing [NumMissing]int
}

func newQueues() queues {
	return queues{late: refHeap{latest: true}, byKey: map[classKey]uint16{}}
}

// wait puts r, in no queue, in line for its due time.
func (q *queues) wait(p *pending, r ref) {
	p.recs[r].where = inWaiting
	q.waiting.push(p, r)
}

// detach takes r out of the queue it is in, if any.
func (q *queues) detach(p *pending, r ref) {
	rec := &p.recs[r]
	switch rec.where {
	case inWaiting:
		q.waiting.remove(p, r)
	case inFresh:
		q.fresh.remove(p, r)
	case inLate:
		q.late.remove(p, r)
	case inClass:
		c := q.classes[rec.class]
		c.heap.remove(p, r)
		counts := missingCounts(p, r)
		for s := range c.missing {
			c.missing[s] -= counts[s]
		}
	}
	rec.where = inNone
}

// promote moves what fell due by now out of waiting, and fresh first
// queries due longer than lateAfter ago to late. A due requery that waits
// for nothing (cannot happen: such a push is finished) goes to its class
// all the same.
func (q *queues) promote(p *pending, now int64) {
	for q.waiting.len() > 0 && p.recs[q.waiting.peek()].due <= now {
		r := q.waiting.pop(p)
		if p.recs[r].step == 0 {
			p.recs[r].where = inFresh
			q.fresh.push(p, r)
			continue
		}
		q.enclass(p, r)
	}
	lateBefore := now - int64(lateAfter)
	for q.fresh.len() > 0 && p.recs[q.fresh.peek()].due < lateBefore {
		r := q.fresh.pop(p)
		p.recs[r].where = inLate
		q.late.push(p, r)
	}
}

// enclass puts a due requery in its class.
func (q *queues) enclass(p *pending, r ref) {
	rec := &p.recs[r]
	counts := missingCounts(p, r)
	key := classKey{step: rec.step}
	for s, n := range counts {
		if n > 0 {
			key.mask |= 1 << s
		}
	}
	i, ok := q.byKey[key]
	if !ok {
		i = uint16(len(q.classes))
		q.classes = append(q.classes, &class{key: key})
		q.byKey[key] = i
	}
	c := q.classes[i]
	for s := range c.missing {
		c.missing[s] += counts[s]
	}
	rec.where, rec.class = inClass, i
	c.heap.push(p, r)
}

// view is what a Policy sees of a class.
func (c *class) view() Class {
	v := Class{Step: int(c.key.step)}
	n := float64(c.heap.len())
	for s, m := range c.missing {
		v.Missing[s] = float64(m) / n
	}
	return v
}

// missingCounts counts, for each stage, the instances of r still expected
// to report it: the stage after a successful one that has no outcome yet.
// Clicks count too (the scheduler decides whether waiting for them pays).
func missingCounts(p *pending, r ref) [NumMissing]int {
	var out [NumMissing]int
	ins := p.instances(r)
	if len(ins) == 0 {
		out[NoTrace] = 1
		return out
	}
	for _, in := range ins {
		for _, ch := range stageChains {
			for i := 0; i+1 < len(ch); i++ {
				prev, next := ch[i], ch[i+1]
				if in.succeeded&(1<<prev) != 0 && in.counted&(1<<next) == 0 {
					out[next]++
				}
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

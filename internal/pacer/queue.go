package pacer

import "slices"

// DefaultShare is the share of the calls interactive waits may take while
// background work waits too (config: trace_page_share).
const DefaultShare = 0.5

// shareCalls is how many of the last calls the share is counted over: a
// minute at one call per second. Counting calls rather than time keeps the
// rule the same at every rate.
const shareCalls = 60

// waiter is one caller in the queue.
type waiter struct{ interactive bool }

// queue holds the waiting callers, in arrival order per kind, and decides
// whose turn it is. Only the waiter whose turn it is sleeps on the clock;
// the others wait for changed, which is closed (and replaced) whenever the
// turn may have passed to someone else. The Pacer's mutex guards it.
type queue struct {
	background, interactive []*waiter
	share                   float64
	changed                 chan struct{}

	// The kinds of the last shareCalls calls, as a ring.
	recent            [shareCalls]bool // true: interactive
	recentN, recentAt int
	recentInteractive int
}

func newQueue(share float64) queue {
	return queue{share: share, changed: make(chan struct{})}
}

func (q *queue) addLocked(interactive bool) *waiter {
	w := &waiter{interactive: interactive}
	if interactive {
		q.interactive = append(q.interactive, w)
	} else {
		q.background = append(q.background, w)
	}
	q.changedLocked()
	return w
}

// nextLocked is the waiter whose turn it is: the first interactive one
// while interactive calls stay within their share of the recent calls (or
// when no background caller waits), else the first background one.
func (q *queue) nextLocked() *waiter {
	switch {
	case len(q.interactive) == 0 && len(q.background) == 0:
		return nil
	case len(q.background) == 0:
		return q.interactive[0]
	case len(q.interactive) == 0:
		return q.background[0]
	case q.interactiveFitsLocked():
		return q.interactive[0]
	default:
		return q.background[0]
	}
}

// interactiveFitsLocked tells whether one more interactive call keeps them
// within their share of the last shareCalls calls. Counting against the
// full shareCalls even before that many were made lets the first lookups
// after a start go first too.
func (q *queue) interactiveFitsLocked() bool {
	n := q.recentInteractive + 1
	if q.recentN == shareCalls && q.recent[q.recentAt] {
		n-- // the oldest call, interactive, leaves the count
	}
	return float64(n) <= q.share*shareCalls+1e-9 // 0.7 × 60 must be 42
}

// releaseLocked takes w, whose call was let through, off the queue and
// counts its kind.
func (q *queue) releaseLocked(w *waiter) {
	if q.recentN == shareCalls {
		if q.recent[q.recentAt] {
			q.recentInteractive--
		}
	} else {
		q.recentN++
	}
	q.recent[q.recentAt] = w.interactive
	if w.interactive {
		q.recentInteractive++
	}
	q.recentAt = (q.recentAt + 1) % shareCalls
	q.removeLocked(w)
}

// removeLocked takes w off the queue; its turn passes to the next waiter.
func (q *queue) removeLocked(w *waiter) {
	l := &q.background
	if w.interactive {
		l = &q.interactive
	}
	if i := slices.Index(*l, w); i >= 0 {
		*l = slices.Delete(*l, i, i+1)
	}
	q.changedLocked()
}

func (q *queue) lenLocked() int { return len(q.background) + len(q.interactive) }

// changedLocked wakes every waiter to look again whose turn it is.
func (q *queue) changedLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

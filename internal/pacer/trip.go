package pacer

import "time"

// The arrival bound of a call, its reply less the shortest round trip, is
// safe only if that shortest trip is not overestimated: were it longer than
// the true minimum, the bound would fall before the actual arrival. So the
// estimate falls at once and rises slowly (the minimum over about an hour),
// and is not used before minTrips trips were seen: right after a start the
// few trips measured need not include a fast one. Underestimating is safe;
// it only costs budget.
const (
	tripSpan  = 10 * time.Minute
	tripSpans = 6 // the minimum is over the last 50-60 minutes
	minTrips  = 8
)

// shortestTrip tracks the shortest round trip over the last hour.
type shortestTrip struct {
	spans [tripSpans]tripStats
}

type tripStats struct {
	span     int64 // which tripSpan since the epoch
	n        int
	shortest time.Duration
}

func (s *shortestTrip) add(now time.Time, d time.Duration) {
	span := now.UnixNano() / int64(tripSpan)
	t := &s.spans[span%tripSpans]
	if t.span != span || t.n == 0 {
		*t = tripStats{span: span, shortest: d}
	}
	t.n++
	t.shortest = min(t.shortest, d)
}

// get returns the shortest trip of the last hour, or zero while fewer than
// minTrips were seen in it.
func (s *shortestTrip) get(now time.Time) time.Duration {
	span := now.UnixNano() / int64(tripSpan)
	n, shortest := 0, time.Duration(0)
	for _, t := range s.spans {
		if t.n == 0 || t.span <= span-tripSpans || t.span > span {
			continue
		}
		if n == 0 || t.shortest < shortest {
			shortest = t.shortest
		}
		n += t.n
	}
	if n < minTrips {
		return 0
	}
	return shortest
}

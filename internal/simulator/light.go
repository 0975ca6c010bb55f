package simulator

import (
	"strconv"
	"strings"
	"time"
)

// known returns the push (app, id) as known at now, or nil if it is unknown
// or older than the 7 days Tencent keeps traces. In light mode the push is
// rebuilt from its PushID with the rates in force at its send time.
func (s *Simulator) known(app int64, id string, now time.Time) *push {
	if !s.stateless {
		s.mu.Lock()
		p := s.pushes[pushKey{app, id}]
		s.mu.Unlock()
		if p == nil || now.Sub(p.at) > traceRetention {
			return nil
		}
		return p
	}
	at, _, ok := parsePushID(id)
	if !ok || at.After(now) || now.Sub(at) > traceRetention {
		return nil
	}
	s.mu.Lock()
	rates := s.ratesAtLocked(at)
	s.mu.Unlock()
	return generate(s.seed, id, at, rates)
}

// formatPushID is fmt.Sprintf("%d-%d-%d", tiny, sent, random), several
// times faster: a long run makes millions of PushIDs.
func formatPushID(tiny, sent int64, random uint32) string {
	b := make([]byte, 0, 48)
	b = strconv.AppendInt(b, tiny, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, sent, 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(random), 10)
	return string(b)
}

// parsePushID splits a PushID shaped like NewPush's,
// "<sender tiny id>-<unix seconds>-<random>" (three unsigned decimals),
// into its send time and random part.
func parsePushID(id string) (sent time.Time, random uint32, ok bool) {
	tiny, rest, ok1 := strings.Cut(id, "-")
	secs, rnd, ok2 := strings.Cut(rest, "-")
	if !ok1 || !ok2 || !digits(tiny) || !digits(secs) || !digits(rnd) {
		return time.Time{}, 0, false
	}
	if _, err := strconv.ParseUint(tiny, 10, 64); err != nil {
		return time.Time{}, 0, false
	}
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || sec > 1<<40 { // far beyond any real send time
		return time.Time{}, 0, false
	}
	r, err := strconv.ParseUint(rnd, 10, 32)
	if err != nil {
		return time.Time{}, 0, false
	}
	return time.Unix(sec, 0), uint32(r), true
}

// digits reports whether s is a non-empty run of ASCII digits (ParseInt
// alone would accept a sign).
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

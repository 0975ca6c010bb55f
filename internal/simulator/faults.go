package simulator

import (
	"net/http"
)

// badGatewayHTML is what Tencent's gateway (STGW) sends with a 502.
const badGatewayHTML = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>stgw</center>
</body>
</html>
`

// drawn is the set of faults drawn for one call. The exclusive ones take
// precedence in the order http502, internal, rateLimit, sigExpired; stall
// delays whatever is answered; cut truncates any JSON reply.
type drawn struct {
	http502, internal, rateLimit, sigExpired bool
	stall, cut                               bool
}

func (d drawn) any() bool {
	return d.http502 || d.internal || d.rateLimit || d.sigExpired || d.stall || d.cut
}

// drawFaults draws every fault kind once, so that a given seed and sequence
// of calls always injects the same faults.
func (s *Simulator) drawFaults() drawn {
	f := s.faults
	s.mu.Lock()
	defer s.mu.Unlock()
	hit := func(p float64) bool { return s.faultRNG.Float64() < p }
	d := drawn{
		http502:    hit(f.HTTP502),
		internal:   hit(f.Internal90102),
		rateLimit:  hit(f.RateLimitCode),
		sigExpired: hit(f.UserSigExpired),
		stall:      hit(f.Stall),
		cut:        hit(f.CutJSON),
	}
	switch {
	case d.http502:
		d.internal, d.rateLimit, d.sigExpired, d.cut = false, false, false, false
	case d.internal:
		d.rateLimit, d.sigExpired = false, false
	case d.rateLimit:
		d.sigExpired = false
	}
	return d
}

// stall waits StallFor on the Clock. It reports false if the client went
// away first.
func (s *Simulator) stall(r *http.Request) bool {
	t := s.clock.NewTimer(s.faults.StallFor)
	select {
	case <-t.C():
		return true
	case <-r.Context().Done():
		t.Stop()
		return false
	}
}

// cut returns a strict prefix of a JSON reply, between a quarter and three
// quarters of it. A strict prefix of a JSON object is never valid JSON.
func (s *Simulator) cut(body []byte) []byte {
	if len(body) < 2 {
		return body[:0]
	}
	s.mu.Lock()
	n := len(body)/4 + s.faultRNG.IntN(len(body)/2+1)
	s.mu.Unlock()
	return body[:max(1, min(n, len(body)-1))]
}

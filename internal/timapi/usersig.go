package timapi

import (
	"fmt"
	"sync"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

// signer hands out the administrator's UserSig. Signing is cheap, but a fresh
// signature per call would make every request URL unique for no benefit and
// would hide clock problems until the worst moment; so one signature is kept
// and renewed when less than half of its lifetime remains, which leaves a
// wide margin for clock skew between this host and Tencent.
type signer struct {
	sdkappid   int64
	identifier string
	key        string
	ttl        time.Duration
	clock      clock.Clock
	// gen is tencentyun.GenUserSig; a field so tests can count renewals.
	gen func(sdkappid int, key, identifier string, expire int) (string, error)

	mu     sync.Mutex
	sig    string
	issued time.Time // per the injected clock
}

// get returns the cached UserSig, making a new one when it is missing, past
// half its TTL, or when force is set (after a 70001 reply).
//
// The official library stamps TLS.time with the wall clock, not the injected
// one; only the renewal decision follows the injected clock. In production
// both are the wall clock.
func (s *signer) get(force bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if !force && s.sig != "" && now.Sub(s.issued) < s.ttl/2 {
		return s.sig, nil
	}
	sig, err := s.gen(int(s.sdkappid), s.key, s.identifier, int(s.ttl/time.Second))
	if err != nil {
		// The library only fails on JSON/zlib errors, which cannot carry the
		// key; still, name the failure without echoing inputs.
		return "", fmt.Errorf("timapi: generating UserSig for identifier %q: %w", s.identifier, err)
	}
	s.sig, s.issued = sig, now
	return sig, nil
}

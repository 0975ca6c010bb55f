package simulator

import (
	"sort"
	"time"
)

// defaultChannelFailure is the probability, on every platform, that the
// vendor channel refuses a push the offline route submitted to it.
const defaultChannelFailure = 0.025

// failureRates are the stage failure probabilities in force for a push, by
// PushPlatform: the vendor channel refusing it, and (once the channel
// accepted it) the device stage failing.
type failureRates struct {
	channel, device [numPlatforms]float64
}

// rateChange is one entry of the history of failure rates: the rates in
// force for pushes sent at or after from, until the next entry.
type rateChange struct {
	from  time.Time // a whole second (the zero time for the configured rates)
	rates failureRates
}

// configuredRates are the vendors' defaults with cfg's overrides.
func configuredRates(cfg Config) failureRates {
	var r failureRates
	for p := range numPlatforms {
		r.channel[p] = defaultChannelFailure
		r.device[p] = vendorFor(p).deviceFail
	}
	for p, f := range cfg.ChannelFailure {
		if p >= 0 && p < numPlatforms {
			r.channel[p] = clamp01(f)
		}
	}
	for p, f := range cfg.DeviceFailure {
		if p >= 0 && p < numPlatforms {
			r.device[p] = clamp01(f)
		}
	}
	return r
}

// SetDeviceFailure sets the probability that the device stage fails, once
// the vendor channel accepted the push, for pushes to platform sent from
// now on. See SetChannelFailure for when "now" starts.
func (s *Simulator) SetDeviceFailure(platform int, p float64) {
	if platform < 0 || platform >= numPlatforms {
		return
	}
	s.changeRates(func(r *failureRates) { r.device[platform] = clamp01(p) })
}

// SetChannelFailure sets the probability that the vendor channel refuses a
// push to platform, for pushes sent from now on.
//
// A push's send time is a whole second (its PushID carries no more, and
// light mode knows nothing else), so a change applies from the next whole
// second, or from now if the Clock stands on a whole second: pushes sent
// earlier in the second keep the old rates, in both modes alike.
func (s *Simulator) SetChannelFailure(platform int, p float64) {
	if platform < 0 || platform >= numPlatforms {
		return
	}
	s.changeRates(func(r *failureRates) { r.channel[platform] = clamp01(p) })
}

// changeRates appends a change to the history, or amends the last one when
// it takes effect in the same second. Entries superseded before the oldest
// push a trace can still show are dropped, so the history stays short: at
// most one entry per second in which rates changed, over 7 days.
func (s *Simulator) changeRates(change func(*failureRates)) {
	now := s.clock.Now()
	from := now.Truncate(time.Second)
	if from.Before(now) {
		from = from.Add(time.Second)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last := &s.history[len(s.history)-1]
	r := last.rates
	change(&r)
	if from.After(last.from) {
		s.history = append(s.history, rateChange{from, r})
	} else {
		last.rates = r // same second (or the clock went back)
	}
	oldest := now.Add(-traceRetention)
	drop := 0
	for drop+1 < len(s.history) && !s.history[drop+1].from.After(oldest) {
		drop++
	}
	s.history = s.history[drop:]
}

// ratesAtLocked returns the rates in force for a push sent at at. s.mu
// must be held.
func (s *Simulator) ratesAtLocked(at time.Time) failureRates {
	i := sort.Search(len(s.history), func(i int) bool { return s.history[i].from.After(at) })
	return s.history[max(i-1, 0)].rates
}

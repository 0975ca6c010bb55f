package ledger

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
)

func event(key uint64, platform, stage int, code int64, at time.Time) pushid.Event {
	return pushid.Event{App: "prod", Platform: platform, Stage: stage, ErrCode: code, ErrInfo: "x", Time: at, Key: key}
}

// TestCallbackEventsCountedOnceAcrossRestart: a redelivered event, before
// or after a restart, is counted once; an event offered but never saved
// (the callback not acknowledged) is counted once when Tencent retries it.
func TestCallbackEventsCountedOnceAcrossRestart(t *testing.T) {
	h := newHarness(t, "", nil)
	events := []pushid.Event{
		event(1, 3, 1, 0, t0),
		event(2, 3, 2, 80300007, t0),
		event(3, 1, 2, 0, t0),
	}
	h.l.Offer(source.Batch{Events: events})
	h.l.Offer(source.Batch{Events: events[:1]}) // redelivered at once
	h.checkpoint()
	h.l.Offer(source.Batch{Events: []pushid.Event{event(4, 3, 2, 0, t0)}}) // not saved: the reply never went out
	h = h.reopen(nil)
	h.l.Offer(source.Batch{Events: events})                                // redelivered after the restart
	h.l.Offer(source.Batch{Events: []pushid.Event{event(4, 3, 2, 0, t0)}}) // retried by Tencent
	h.checkpoint()
	for k, want := range map[seriesKey]float64{
		{metric: mCallbackEvents, app: "prod", platform: "huawei", stage: "1"}:                                               1,
		{metric: mCallbackEvents, app: "prod", platform: "huawei", stage: "2"}:                                               2,
		{metric: mCallbackEvents, app: "prod", platform: "apns", stage: "2"}:                                                 1,
		{metric: mCallbackFailures, app: "prod", platform: "huawei", stage: "2", extra: "80300007", reason: "token_invalid"}: 1,
	} {
		if got := h.counter(k); got != want {
			t.Errorf("%+v = %v, want %v", k, got, want)
		}
	}
	if got := testutil.ToFloat64(h.l.metrics.eventsIgnored.WithLabelValues("prod", "duplicate")); got != 3 {
		t.Errorf("duplicates = %v, want 3 (after the restart)", got)
	}
}

// TestCallbackEventsTooOld: an event older than the events remembered is
// not counted (it could be a redelivery), and says so.
func TestCallbackEventsTooOld(t *testing.T) {
	h := newHarness(t, "", nil)
	h.clock.Advance(7 * time.Hour)
	h.checkpoint() // expires the window: nothing older than 6 h is remembered
	h.l.Offer(source.Batch{Events: []pushid.Event{event(1, 3, 1, 0, t0), event(2, 3, 1, 0, h.clock.Now())}})
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mCallbackEvents, app: "prod", platform: "huawei", stage: "1"}); got != 1 {
		t.Fatalf("counted %v, want only the recent event", got)
	}
	if got := testutil.ToFloat64(h.l.metrics.eventsIgnored.WithLabelValues("prod", "too_old")); got != 1 {
		t.Fatalf("too_old = %v, want 1", got)
	}
}

// TestCallbackEventsCap: past MaxEvents the oldest minute is forgotten,
// and events of that minute are then too old, never counted twice.
func TestCallbackEventsCap(t *testing.T) {
	h := newHarness(t, "", nil)
	h.l.opts.MaxEvents = 3
	h.l.books["prod"].events = newEventSet(h.l.opts)
	for i := range 4 {
		h.l.Offer(source.Batch{Events: []pushid.Event{event(uint64(i), 3, 1, 0, t0.Add(time.Duration(i)*time.Minute))}})
	}
	h.l.Offer(source.Batch{Events: []pushid.Event{event(0, 3, 1, 0, t0)}}) // the forgotten minute's event, again
	h.checkpoint()
	if got := h.counter(seriesKey{metric: mCallbackEvents, app: "prod", platform: "huawei", stage: "1"}); got != 4 {
		t.Fatalf("counted %v, want 4", got)
	}
	if got := testutil.ToFloat64(h.l.metrics.eventsIgnored.WithLabelValues("prod", "too_old")); got != 1 {
		t.Fatalf("too_old = %v, want 1", got)
	}
}

func TestCallbackCodeOutOfRange(t *testing.T) {
	h := newHarness(t, "", nil)
	h.l.Offer(source.Batch{Events: []pushid.Event{event(1, 7, 2, pushid.ErrCodeOutOfRange, t0)}})
	h.checkpoint()
	k := seriesKey{metric: mCallbackFailures, app: "prod", platform: "vivo", stage: "2", extra: "out_of_range", reason: "unknown"}
	if got := h.counter(k); got != 1 {
		t.Fatalf("out of range code: %v", got)
	}
}

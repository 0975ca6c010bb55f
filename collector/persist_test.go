package collector

import (
	"testing"
	"time"
)

func TestCrashLosesOnlyUnsavedWorkAndNeverCountsTwice(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir, nil)
	partial := trace("", instance("i1", 3, stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0)))
	complete := trace("", instance("i1", 3, stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0), stat(ok, 0, t0)))
	h.offer("p1")
	h.clock.Advance(30 * time.Second)
	h.offer("p2")
	h.clock.Advance(30 * time.Second)
	h.tracer.expect(t, "p1").answer(partial, nil)
	h.idle()
	h.checkpoint() // p1's im/offline/channel are saved
	h.clock.Advance(30 * time.Second)
	h.tracer.expect(t, "p2").answer(partial, nil)
	h.idle()
	channel := seriesKey{metric: mStage, app: "prod", platform: "huawei", stage: "channel"}
	if got := h.counter(channel); got != 1 {
		t.Fatalf("served channel = %v before the crash, want 1 (only saved values are served)", got)
	}
	h.crash() // p2's counts were never saved

	h2 := newHarness(t, dir, nil)
	h2.clock.Set(t0.Add(90 * time.Second))
	if got := h2.counter(channel); got != 1 {
		t.Fatalf("served channel after restart = %v, want the saved 1", got)
	}
	if n := h2.c.apps["prod"].queue.len(); n != 2 {
		t.Fatalf("pending after restart = %d, want 2", n)
	}
	h2.offer("p1") // replayed input: not traced again from scratch
	// The unsaved query of p2 is redone; p1 waits for its requery.
	h2.tracer.expect(t, "p2").answer(partial, nil)
	h2.idle()
	h2.clock.Set(t0.Add(5 * time.Minute))
	h2.tracer.expect(t, "p1").answer(complete, nil)
	h2.idle()
	h2.clock.Set(t0.Add(5*time.Minute + 30*time.Second))
	h2.tracer.expect(t, "p2").answer(complete, nil)
	h2.idle()
	h2.checkpoint()
	for stage, want := range map[string]float64{"im": 2, "channel": 2, "device": 2, "click": 2} {
		k := seriesKey{metric: mStage, app: "prod", platform: "huawei", stage: stage}
		if got := h2.counter(k); got != want {
			t.Errorf("%s = %v, want %v: every stage of both pushes exactly once", stage, got, want)
		}
	}
	if got := h2.counter(seriesKey{metric: mDuplicates, app: "prod"}); got != 1 {
		t.Errorf("duplicates = %v, want 1 (the replayed PushID)", got)
	}
	if n := h2.c.apps["prod"].queue.len(); n != 0 {
		t.Errorf("pending = %d, want 0 once both are complete", n)
	}
}

func TestCursorsSavedWithIDs(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir, nil)
	offer(h.c, nil, cursorFor{"file:/a", "offset=10"}.cursor())
	h.checkpoint()
	offer(h.c, nil, cursorFor{"file:/a", "offset=20"}.cursor()) // not saved
	h.crash()
	h2 := newHarness(t, dir, nil)
	if v, ok := h2.c.Cursor("file:/a"); !ok || string(v) != "offset=10" {
		t.Fatalf("cursor after restart = %q %v, want the saved offset=10", v, ok)
	}
}

func TestEntryRecordRoundTrip(t *testing.T) {
	instances := []instanceState{{id: "i1", platform: 3, counted: 0x801f, succeeded: 0x7}, {id: "", platform: 0}}
	e := &entry{pushID: "x", seen: t0.Add(123456789).UnixNano(), due: t0.Add(time.Hour).UnixNano(), step: 2, failures: 3, instances: &instances}
	got, err := decodeEntry("x", encodeEntry(e))
	if err != nil {
		t.Fatal(err)
	}
	if got.seen != e.seen || got.due != e.due || got.step != 2 || got.failures != 3 || len(got.instanceList()) != 2 || got.instanceList()[0] != instances[0] {
		t.Fatalf("round trip: %+v", got)
	}
	for _, bad := range [][]byte{nil, {9}, encodeEntry(e)[:5], append(encodeEntry(e), 1)} {
		if _, err := decodeEntry("x", bad); err == nil {
			t.Errorf("decodeEntry(%v) accepted a malformed record", bad)
		}
	}
}

// TestEntryRecordFormat pins the record format: these are the records of
// the entries above, as written when entries held time.Time values.
func TestEntryRecordFormat(t *testing.T) {
	instances := []instanceState{{id: "i1", platform: 3, counted: 0x801f, succeeded: 0x7}, {id: "", platform: 0}}
	for _, tt := range []struct {
		e   *entry
		rec string
	}{
		{&entry{pushID: "x", seen: t0.Add(123456789).UnixNano(), due: t0.Add(time.Hour).UnixNano(), step: 2, failures: 3, instances: &instances},
			"\x01\xaa\xb4\x96\x85\xb5\xb7\x9d\xeb1\x80\x80\xfd\x9a\xfa\x88\x9f\xeb1\x02\x03\x02\x02i1\x06\x9f\x80\x02\a\x00\x00\x00\x00"},
		{&entry{pushID: "y", seen: t0.UnixNano(), due: t0.Add(time.Minute).UnixNano()},
			"\x01\x80\x80\xb8\x8f\xb4\xb7\x9d\xeb1\x80\xe0\xf2\x93\xf3\xba\x9d\xeb1\x00\x00\x00"},
	} {
		if got := string(encodeEntry(tt.e)); got != tt.rec {
			t.Errorf("encodeEntry(%s) = %q, want %q", tt.e.pushID, got, tt.rec)
		}
		got, err := decodeEntry(tt.e.pushID, []byte(tt.rec))
		if err != nil || got.seen != tt.e.seen || got.due != tt.e.due || got.step != tt.e.step || got.failures != tt.e.failures ||
			len(got.instanceList()) != len(tt.e.instanceList()) {
			t.Errorf("decodeEntry(%q) = %+v, %v", tt.rec, got, err)
		}
	}
}

package simulator

import (
	"bytes"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"
)

func lightConfig() Config {
	cfg := testConfig()
	cfg.Stateless = true
	return cfg
}

const emptyTrace = `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","InstanceTrace":[]}`

// TestLightModeMatchesStateful: the same pushes, made at sub-second times
// around rate changes, give byte-identical traces in both modes, at every
// moment of their life, and the same callback events.
func TestLightModeMatchesStateful(t *testing.T) {
	cfg := testConfig()
	cfg.ChannelFailure = map[int]float64{3: 0.3}
	full, ff := newSim(t, cfg)
	cfg.Stateless = true
	light, fl := newSim(t, cfg)
	step := func(d time.Duration) {
		ff.Advance(d)
		fl.Advance(d)
	}
	var ids []string
	for i := range 40 {
		if i%10 == 5 { // a change in mid-second, between pushes of that second
			full.SetDeviceFailure(3, float64(i)/50)
			light.SetDeviceFailure(3, float64(i)/50)
			full.SetChannelFailure(6, float64(i)/40)
			light.SetChannelFailure(6, float64(i)/40)
		}
		a, b := full.NewPush(testApp), light.NewPush(testApp)
		if a != b {
			t.Fatalf("push %d: PushIDs %q and %q", i, a, b)
		}
		ids = append(ids, a)
		step(300 * time.Millisecond)
	}
	q := goodQuery(t)
	for _, d := range []time.Duration{0, 700 * time.Millisecond, 3 * time.Second, 25 * time.Second, 10 * time.Minute} {
		step(d)
		for _, id := range ids {
			a, b := traceCall(t, full, q, id), traceCall(t, light, q, id)
			if !bytes.Equal(a.body, b.body) {
				t.Fatalf("%s at %v:\nstateful %s\nlight    %s", id, ff.Now().Sub(t0), a.body, b.body)
			}
		}
	}
	for _, id := range ids {
		if a, b := full.PushEvents(testApp, id), light.PushEvents(testApp, id); !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: events differ:\nstateful %+v\nlight    %+v", id, a, b)
		}
	}
}

// TestPushTimeWholeSeconds: a push made in mid-second shows that second as
// PushTime, and its stages are timed from it, in both modes.
func TestPushTimeWholeSeconds(t *testing.T) {
	for _, cfg := range []Config{testConfig(), lightConfig()} {
		s, fc := newSim(t, cfg)
		fc.Advance(999 * time.Millisecond)
		id := s.NewPush(testApp)
		fc.Advance(10 * time.Minute)
		var tr traceResp
		traceCall(t, s, goodQuery(t), id).decode(t, &tr)
		if len(tr.InstanceTrace) == 0 {
			t.Fatalf("stateless=%v: no trace", cfg.Stateless)
		}
		if got, want := strField(t, tr.InstanceTrace[0], "PushTime"), fmtTime(t0); got != want {
			t.Errorf("stateless=%v: PushTime %s, want %s", cfg.Stateless, got, want)
		}
		if want := fmt.Sprintf("-%d-", t0.Unix()); !bytes.Contains([]byte(id), []byte(want)) {
			t.Errorf("PushID %s does not carry its send time %d", id, t0.Unix())
		}
	}
}

func TestLightModeUnknownPushes(t *testing.T) {
	s, fc := newSim(t, lightConfig())
	id := s.NewPush(testApp)
	q := goodQuery(t)
	if r := traceCall(t, s, q, id); string(r.body) == emptyTrace {
		t.Fatal("a fresh push is unknown")
	}
	future := fmt.Sprintf("144115233406643804-%d-4026038328", t0.Add(time.Minute).Unix())
	for _, bad := range []string{"never-registered", "1-2", "1-2-3-4", "a-1727580296-1", "+1-1727580296-1",
		"1-1727580296-4294967296", "1--1", "1-1727580296-", future} {
		if r := traceCall(t, s, q, bad); string(r.body) != emptyTrace {
			t.Errorf("%q: %s", bad, r.body)
		}
	}
	s.RegisterPush(testApp, "custom") // does nothing in light mode
	if r := traceCall(t, s, q, "custom"); string(r.body) != emptyTrace {
		t.Errorf("RegisterPush in light mode: %s", r.body)
	}
	fc.Advance(traceRetention)
	if r := traceCall(t, s, q, id); string(r.body) == emptyTrace {
		t.Error("a push exactly 7 days old is unknown")
	}
	fc.Advance(time.Second)
	if r := traceCall(t, s, q, id); string(r.body) != emptyTrace {
		t.Errorf("8 days old: %s", r.body)
	}
	if rev := s.Revealed(); rev != nil {
		t.Errorf("Revealed in light mode: %v", rev)
	}
	var rep struct {
		ActionStatus string
		TotalCount   int
	}
	statsCall(t, s, PathStatistics, t0, fc.Now()).decode(t, &rep)
	if rep.ActionStatus != "OK" || rep.TotalCount != 0 {
		t.Errorf("statistics in light mode: %+v", rep)
	}
}

// TestLightModeMemoryFlat makes a million pushes in light mode, one per
// simulated second as a long run would (11.6 days), with a rate change
// every hour: the heap must not grow with them.
func TestLightModeMemoryFlat(t *testing.T) {
	s, fc := newSim(t, lightConfig())
	first := s.NewPush(testApp)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const n = 1_000_000
	for i := range n {
		if i%3600 == 0 {
			s.SetDeviceFailure(3, float64(i%7)/10)
		}
		s.NewPush(testApp)
		if i%10 == 9 {
			fc.Advance(10 * time.Second) // 1 push/s, in fewer clock steps
		}
	}
	after := heap()
	const limit = 4 << 20
	if after > before && after-before > limit {
		t.Fatalf("heap grew by %d bytes over %d pushes, limit %d", after-before, n, limit)
	}
	t.Logf("heap %d → %d bytes over %d pushes", before, after, n)
	if r := traceCall(t, s, goodQuery(t), first); string(r.body) != emptyTrace {
		t.Errorf("a push from %v ago still answered", fc.Now().Sub(t0))
	}
}

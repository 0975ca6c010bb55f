package simulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		check  func(t *testing.T, r result)
		want   Stats
	}{
		{"HTTP502", Faults{HTTP502: 1}, func(t *testing.T, r result) {
			if r.status != http.StatusBadGateway || !strings.Contains(string(r.body), "<html>") {
				t.Fatalf("%d %s", r.status, r.body)
			}
		}, Stats{Calls: 1, FaultsInjected: 1}},
		{"Internal90102", Faults{Internal90102: 1}, func(t *testing.T, r result) {
			if c := r.code(t); c != 90102 {
				t.Fatalf("code %d", c)
			}
		}, Stats{Calls: 1, FaultsInjected: 1}},
		{"RateLimitCode", Faults{RateLimitCode: 1}, func(t *testing.T, r result) {
			if c := r.code(t); c != 60007 {
				t.Fatalf("code %d", c)
			}
		}, Stats{Calls: 1, FaultsInjected: 1, RateLimitedReplies: 1}},
		{"UserSigExpired", Faults{UserSigExpired: 1}, func(t *testing.T, r result) {
			if c := r.code(t); c != 70001 {
				t.Fatalf("code %d", c)
			}
		}, Stats{Calls: 1, FaultsInjected: 1}},
		{"CutJSON", Faults{CutJSON: 1}, func(t *testing.T, r result) {
			if r.status != 200 || len(r.body) == 0 || json.Valid(r.body) || r.body[0] != '{' {
				t.Fatalf("%d %q", r.status, r.body)
			}
		}, Stats{Calls: 1, FaultsInjected: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Faults = tt.faults
			s, fc := newSim(t, cfg)
			id := s.NewPush(testApp)
			fc.Advance(5 * time.Minute)
			tt.check(t, traceCall(t, s, goodQuery(t), id))
			if got := s.Stats(testApp); got != tt.want {
				t.Errorf("stats %+v, want %+v", got, tt.want)
			}
			if rev := s.Revealed(); len(rev) != 0 {
				t.Errorf("faulty reply revealed %v", rev)
			}
		})
	}
}

func TestStall(t *testing.T) {
	cfg := testConfig()
	cfg.Faults = Faults{Stall: 1, StallFor: 3 * time.Second}
	s, fc := newSim(t, cfg)
	id := s.NewPush(testApp)
	fc.Advance(5 * time.Minute)
	q := goodQuery(t)

	done := make(chan result)
	go func() { done <- traceCall(t, s, q, id) }()
	fc.BlockUntil(1)
	if d, _ := fc.NextDeadline(); d != fc.Now().Add(3*time.Second) {
		t.Fatalf("stall deadline %v", d)
	}
	fc.Advance(3 * time.Second)
	if r := <-done; r.code(t) != 0 {
		t.Fatalf("after stall: %s", r.body)
	}
	if st := s.Stats(testApp); st.OK != 1 || st.FaultsInjected != 1 {
		t.Fatalf("stats %+v", st)
	}
	if len(s.Revealed()) == 0 {
		t.Error("a stalled but complete reply revealed nothing")
	}

	// A client that gives up gets nothing, and nothing is revealed for it.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- doCtx(t, ctx, s, http.MethodPost, PathTrace, q, `{"PushID":"`+id+`"}`) }()
	fc.BlockUntil(1)
	cancel()
	if r := <-done; len(r.body) != 0 {
		t.Fatalf("abandoned call answered %s", r.body)
	}
	if fc.Waiters() != 0 {
		t.Error("stall timer left behind")
	}
	if st := s.Stats(testApp); st.OK != 1 || st.FaultsInjected != 2 || st.Calls != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaultsDeterministic(t *testing.T) {
	codes := func() string {
		cfg := testConfig()
		cfg.Faults = Faults{HTTP502: 0.2, Internal90102: 0.2, RateLimitCode: 0.2, UserSigExpired: 0.2, CutJSON: 0.2}
		s, _ := newSim(t, cfg)
		q := goodQuery(t)
		var b strings.Builder
		for range 60 {
			r := traceCall(t, s, q, "x")
			fmt.Fprintf(&b, "%d/%d ", r.status, len(r.body))
		}
		return b.String()
	}
	a, b := codes(), codes()
	if a != b {
		t.Fatalf("fault sequence differs:\n%s\n%s", a, b)
	}
	for _, want := range []string{"502/", "200/"} {
		if !strings.Contains(a, want) {
			t.Errorf("no %s in %s", want, a)
		}
	}
}

// outcomesOf lists the outcomes a trace reply shows.
func outcomesOf(t *testing.T, id string, r result) []Outcome {
	t.Helper()
	var tr traceResp
	r.decode(t, &tr)
	var out []Outcome
	for _, inst := range tr.InstanceTrace {
		for name, st := range stagesOf(t, inst) {
			if st.PushStatus == 1 || st.PushStatus == 2 {
				out = append(out, Outcome{testApp, id, strField(t, inst, "InstanceId"),
					intField(t, inst, "PushPlatform"), name, st.PushStatus, st.ErrorCode})
			}
		}
	}
	return out
}

func sortOutcomes(o []Outcome) {
	sort.Slice(o, func(i, j int) bool { return fmt.Sprint(o[i]) < fmt.Sprint(o[j]) })
}

func TestRevealedMatchesReplies(t *testing.T) {
	cfg := testConfig()
	cfg.Faults = Faults{CutJSON: 0.3, HTTP502: 0.2}
	s, fc := newSim(t, cfg)
	q := goodQuery(t)
	var ids []string
	for range 30 {
		ids = append(ids, s.NewPush(testApp))
	}
	var want []Outcome
	seen := map[Outcome]bool{}
	for _, step := range []time.Duration{time.Second, 20 * time.Second, 5 * time.Minute, time.Second} {
		fc.Advance(step)
		for _, id := range ids {
			r := traceCall(t, s, q, id)
			if r.status != 200 || !json.Valid(r.body) {
				continue
			}
			for _, o := range outcomesOf(t, id, r) {
				if !seen[o] {
					seen[o] = true
					want = append(want, o)
				}
			}
		}
	}
	got := s.Revealed()
	sortOutcomes(got)
	sortOutcomes(want)
	if len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("Revealed has %d outcomes, the good replies showed %d", len(got), len(want))
	}
	if st := s.Stats(testApp); st.FaultsInjected == 0 || st.OK == 0 {
		t.Fatalf("stats %+v", st)
	}
}

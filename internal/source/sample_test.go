package source

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// ratioSink answers Ratio from a table and records how often it was asked.
type ratioSink struct {
	ratios map[string]float64
	asked  map[string][]int
}

func (s *ratioSink) Offer(Batch)                      {}
func (s *ratioSink) Durable(context.Context) error    { return nil }
func (s *ratioSink) Cursor(string) ([]byte, bool)     { return nil, false }
func (s *ratioSink) Cursors(string) map[string][]byte { return nil }
func (s *ratioSink) Ratio(app string, n int) (float64, bool) {
	s.asked[app] = append(s.asked[app], n)
	r, ok := s.ratios[app]
	return r, ok
}

// TestSample: every ID is counted per app, only sampled IDs of known apps
// are kept, and the sink is asked about every AskEvery IDs, so that a
// burst can cut the ratio within it.
func TestSample(t *testing.T) {
	s := &ratioSink{ratios: map[string]float64{"all": 1, "half": 0.5}, asked: map[string][]int{}}
	var ids []pushid.ID
	add := func(app string, n int) {
		for i := 0; i < n; i++ {
			ids = append(ids, pushid.ID{App: app, PushID: fmt.Sprintf("%s-%d", app, len(ids)), Source: pushid.SourceFile, Seen: time.Unix(0, 0)})
		}
	}
	add("all", 250)
	add("half", 1000)
	add("gone", 3)
	want := 250
	for _, id := range ids[250:1250] {
		if pushid.Sampled(pushid.Hash(id.PushID), 0.5) {
			want++
		}
	}
	kept, counts := Sample(s, ids)
	if len(kept) != want {
		t.Fatalf("kept %d IDs, want %d (all of app all, half's sampled ones, none of an unknown app)", len(kept), want)
	}
	wantCounts := []pushid.Count{{App: "all", Source: "file", N: 250}, {App: "half", Source: "file", N: 1000}, {App: "gone", Source: "file", N: 3}}
	if fmt.Sprint(counts) != fmt.Sprint(wantCounts) {
		t.Fatalf("counts = %v, want %v", counts, wantCounts)
	}
	if got := fmt.Sprint(s.asked["all"]); got != "[100 100 50]" {
		t.Fatalf("asked about app all in runs of %s, want [100 100 50]", got)
	}
	if got := len(s.asked["half"]); got != 10 {
		t.Fatalf("asked about app half %d times, want 10 (every %d IDs)", got, AskEvery)
	}
}

package source

import (
	"regexp"
	"testing"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// The file source samples as source.Sample would: only the IDs that
// pushid.Sampled keeps at the app's ratio are handed on, none of an
// unknown app, and every ID is counted as received. The sink is told of
// each ID once, ahead of it, in answers covering at most AskEvery IDs.
func TestFileSamplesAtTheSinksRatio(t *testing.T) {
	dir := t.TempDir()
	half, idsHalf := lines("half", 0, 1000)
	all, idsAll := lines("all", 0, 250)
	writeFile(t, dir+"/half.log", half)
	writeFile(t, dir+"/all.log", all)
	writeFile(t, dir+"/gone.log", "g-1\ng-2\ng-3\n")
	sink := newFileTestSink()
	sink.ratios = map[string]float64{"half": 0.5, "all": 1}
	h := startFile(t, dir, "*.log", sink, func(o *FileOptions) {
		o.StartAtEnd = false
		o.Format, o.Regex = FormatRegex, regexp.MustCompile(`^(?P<app>[a-z]+)-(?P<push_id>.+)`)
	})
	var want []string
	for _, id := range idsHalf {
		if pushid.Sampled(pushid.Hash(id[len("half-"):]), 0.5) {
			want = append(want, id[len("half-"):])
		}
	}
	for _, id := range idsAll {
		want = append(want, id[len("all-"):])
	}
	wantIDs(t, sink.take(), want)
	h.stop()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for app, n := range map[string]int{"half": 1000, "all": 250, "g": 3} {
		if got := sink.received[app]; got != n {
			t.Errorf("received[%s] = %d, want %d", app, got, n)
		}
		told, most := 0, 0
		for _, a := range sink.asked[app] {
			told += a
			most = max(most, a)
		}
		if told < n || told >= n+AskEvery || most > AskEvery || len(sink.asked[app]) < (n+AskEvery-1)/AskEvery {
			t.Errorf("app %s: asked %v for %d IDs, want each ID announced once ahead, at most %d per answer", app, sink.asked[app], n, AskEvery)
		}
	}
}

// Every poll asks again: a slow log does not use an old answer.
func TestFileSamplerAsksEachPoll(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.log", "")
	sink := newFileTestSink()
	h := startFile(t, dir, "app.log", sink, nil)
	for i := range 3 {
		appendFile(t, h.path("app.log"), "id-"+string(rune('a'+i))+"\n")
		h.step()
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if got := len(sink.asked["prod"]); got != 3 {
		t.Fatalf("asked %v in 3 polls with an ID each, want 3 answers", sink.asked["prod"])
	}
	if told := sink.asked["prod"][0] + sink.asked["prod"][1] + sink.asked["prod"][2]; told != AskEvery+2 {
		t.Fatalf("told of %d IDs (%v), want %d: the unused part of an answer is not announced again", told, sink.asked["prod"], AskEvery+2)
	}
}

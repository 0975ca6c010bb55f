package collector

import (
	"slices"
	"testing"

	"github.com/timpush/timpush_exporter/internal/store"
)

// gatedStore holds each Commit until the test releases it, so the test can
// count more while a checkpoint is being written.
type gatedStore struct {
	*store.Store
	entered, release chan struct{}
}

func (g *gatedStore) Commit(b *store.Batch) error {
	g.entered <- struct{}{}
	<-g.release
	return g.Store.Commit(b)
}

// TestServedNeverAheadOfSaved: a PushID counted while a checkpoint is being
// committed is not in that checkpoint, so it must not be served until a
// later one saves it. Otherwise a kill -9 right after that checkpoint makes
// the counter go down on restart (seen by the acceptance kill test as
// pushids_received_total and pushids_sampled_total dropping by one).
func TestServedNeverAheadOfSaved(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir, nil)
	h.offer("p1")
	h.checkpoint()
	h.offer("p2") // dirty: in the next batch
	g := &gatedStore{Store: h.store, entered: make(chan struct{}), release: make(chan struct{})}
	h.c.store = g
	done := make(chan error)
	go func() { done <- h.c.checkpoint() }()
	<-g.entered
	h.offer("p3") // counted while the batch with p2 is being committed
	const sampled = "timpush_exporter_pushids_sampled_total"
	if got := h.page(sampled); got != 1 {
		t.Errorf("/metrics shows %v while the checkpoint is written, want the 1 saved before", got)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	k := seriesKey{metric: mSampled, app: "prod"}
	if got := h.counter(k); got != 2 {
		t.Errorf("served %v after the checkpoint, want the 2 it saved", got)
	}
	if got := h.page(sampled); got != 2 {
		t.Errorf("/metrics shows %v after the checkpoint, want the 2 it saved", got)
	}
	served := h.counter(k)
	h.crash()
	h2 := newHarness(t, dir, nil)
	if got := h2.counter(k); got < served {
		t.Fatalf("served %v before the crash, %v after the restart: the counter went down", served, got)
	}
}

// TestCheckpointRendersOnlyWhatChanged: a checkpoint publishes new
// families only for the metrics whose series it saved; the others are the
// same objects, so a checkpoint's cost follows what changed, not the
// number of series.
func TestCheckpointRendersOnlyWhatChanged(t *testing.T) {
	h := newHarness(t, "", nil)
	h.offer("p1")
	h.checkpoint()
	before := h.c.Families()
	h.checkpoint() // nothing changed
	for i, f := range h.c.Families() {
		if f != before[i] {
			t.Errorf("%s re-rendered by a checkpoint that changed nothing", f.Name())
		}
	}
	h.offer("p2")
	h.checkpoint()
	var renewed []string
	for i, f := range h.c.Families() {
		if f != before[i] {
			renewed = append(renewed, f.Name())
		}
	}
	if want := []string{"timpush_exporter_pushids_received_total", "timpush_exporter_pushids_sampled_total"}; !slices.Equal(renewed, want) {
		t.Errorf("re-rendered %v, want only %v", renewed, want)
	}
}

package collector

import (
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
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	k := seriesKey{metric: mSampled, app: "prod"}
	if got := h.counter(k); got != 2 {
		t.Errorf("served %v after the checkpoint, want the 2 it saved", got)
	}
	served := h.counter(k)
	h.crash()
	h2 := newHarness(t, dir, nil)
	if got := h2.counter(k); got < served {
		t.Fatalf("served %v before the crash, %v after the restart: the counter went down", served, got)
	}
}

package ledger

import (
	"context"
	"testing"

	"github.com/timpush/timpush_exporter/internal/store"
)

// TestDurableWaitsForItsCheckpointAndAsksNoMore: a Durable is not released
// by a checkpoint that took its batch before the offer; it asks for
// another, returns once that one is saved, and leaves no request for a
// checkpoint behind (each would be an fsync that no reply waits for).
// The test plays the checkpoint loop.
func TestDurableWaitsForItsCheckpointAndAsksNoMore(t *testing.T) {
	h := newHarness(t, "", nil)
	commit := h.l.commit
	entered, release := make(chan struct{}), make(chan struct{})
	h.l.commit = func(b *store.Batch) error {
		entered <- struct{}{}
		<-release
		return commit(b)
	}
	early := make(chan error, 1)
	go func() { early <- h.l.Checkpoint() }()
	<-entered // the early checkpoint has taken its batch

	h.offer("p1")
	done := make(chan error, 1)
	go func() { done <- h.l.Durable(context.Background()) }()
	<-h.l.FlushRequested()
	close(release)
	if err := <-early; err != nil {
		t.Fatal(err)
	}

	<-h.l.FlushRequested() // p1 is not saved yet: Durable asks again
	select {
	case err := <-done:
		t.Fatalf("Durable returned %v before p1 was saved", err)
	default:
	}
	go func() { <-entered }()
	h.checkpoint()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.l.FlushRequested():
		t.Fatal("Durable returned but left a checkpoint request behind")
	default:
	}
	if n := h.reopen(nil).pending(); n != 1 {
		t.Fatalf("after Durable and a restart: %d pending, want p1", n)
	}
}

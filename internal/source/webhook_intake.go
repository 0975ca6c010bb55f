package source

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// What both endpoints do with a request once it is authenticated: read the
// body into reused memory, sample its IDs, hand the batch over and, when it
// must survive a crash, wait until it is saved.

// whScratch is a request's working memory, reused through whScratchPool:
// the body and the slices handed to the sink (which may not keep them).
type whScratch struct {
	body   bytes.Buffer
	ids    [][]byte // the request's valid IDs, in body or decoded
	kept   []pushid.ID
	events []pushid.Event
	raw    []tencentRawEvent
	counts [1]pushid.Count
	reply  [32]byte // the body of a 200 from push-ids
}

var whScratchPool = sync.Pool{New: func() any { return new(whScratch) }}

// whScratchKeep bounds the body buffer a pooled scratch keeps.
const whScratchKeep = 64 << 10

func getScratch() *whScratch { return whScratchPool.Get().(*whScratch) }

func putScratch(sc *whScratch) {
	if sc.body.Cap() > whScratchKeep {
		sc.body = bytes.Buffer{}
	}
	sc.body.Reset()
	clear(sc.ids)
	clear(sc.kept)
	clear(sc.events)
	sc.ids, sc.kept, sc.events, sc.raw = sc.ids[:0], sc.kept[:0], sc.events[:0], sc.raw[:0]
	whScratchPool.Put(sc)
}

// readBody reads the request body, up to the configured limit, into buf.
// On failure it returns the status to answer: 413 over the limit, 400
// otherwise.
func (w *Webhook) readBody(rw http.ResponseWriter, r *http.Request, buf *bytes.Buffer) int {
	limit := w.maxBodyBytes()
	if n := r.ContentLength; n > 0 && n <= limit {
		buf.Grow(int(n) + 1) // +1: ReadFrom wants room to see the end
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(rw, r.Body, limit)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return http.StatusRequestEntityTooLarge
		}
		return http.StatusBadRequest
	}
	return 0
}

// sample returns, appended to kept, the IDs of app that the sink wants
// traced: the bytes are hashed where they lie, and only the kept ones become
// strings. It asks Sink.Ratio every AskEvery IDs, as Sample does.
func (w *Webhook) sample(app string, ids [][]byte, seen time.Time, kept []pushid.ID) []pushid.ID {
	var (
		ratio float64
		known bool
	)
	for i, b := range ids {
		if i%AskEvery == 0 {
			ratio, known = w.sink.Ratio(app, min(AskEvery, len(ids)-i))
		}
		if known && pushid.Sampled(pushid.HashBytes(b), ratio) {
			kept = append(kept, pushid.ID{App: app, PushID: string(b), Source: pushid.SourceWebhook, Seen: seen})
		}
	}
	return kept
}

// batch is what a request hands over: its sampled IDs, the count of all its
// IDs, its events.
func (sc *whScratch) batch(app string, kept []pushid.ID, events []pushid.Event, n int) Batch {
	b := Batch{IDs: kept, Events: events}
	if n > 0 {
		sc.counts[0] = pushid.Count{App: app, Source: pushid.SourceWebhook, N: n}
		b.Received = sc.counts[:]
	}
	return b
}

// deliver offers b to the sink. When b holds what must survive a crash
// before the reply — sampled IDs or events — it then waits until the sink
// has saved it, at most DurableTimeout (on the injected clock). Received
// counts alone are not waited for: a crash may lose a few of those, never
// an acknowledged PushID or event.
func (w *Webhook) deliver(ctx context.Context, b Batch) error {
	if len(b.IDs) == 0 && len(b.Events) == 0 {
		if len(b.Received) > 0 {
			w.sink.Offer(b)
		}
		return nil
	}
	w.sink.Offer(b)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := w.clock.NewTimer(w.opts.DurableTimeout)
	defer timer.Stop()
	done := make(chan struct{})
	defer close(done) // runs first: the goroutine is gone before cancel
	go func() {
		select {
		case <-timer.C():
			cancel(errWebhookDurableTimeout)
		case <-done:
		}
	}()
	if err := w.sink.Durable(ctx); err != nil {
		if cause := context.Cause(ctx); cause != nil && errors.Is(err, ctx.Err()) {
			return cause
		}
		return err
	}
	return nil
}

// Package source turns the outside world's signals — lines of log files and
// webhook requests — into pushid values handed to a Sink: PushIDs to trace,
// counts of the PushIDs read, and Tencent's push result events. Sources know
// nothing of the Tencent API or of how IDs are queried; they apply the
// sampling decision the Sink gives them, so that the millions of PushIDs a
// busy log holds are only counted, not handed on.
package source

import (
	"context"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// Cursor is a source's resume point (for a file: offset and identity),
// opaque to the sink. It is saved atomically with the IDs offered alongside
// it, so after a crash a source resumes exactly after the last IDs that were
// saved, and the dedup set absorbs what is read twice.
type Cursor struct {
	Key   string // unique per source and file, e.g. "file:/var/log/app/push.log"
	Value []byte // nil deletes the cursor
}

// Batch is what a source hands over in one Offer.
type Batch struct {
	// IDs are the PushIDs to trace: those that pushid.Sampled keeps at the
	// ratio Sink.Ratio gave for their app. They may share one string: a
	// sink that keeps a few of them copies those (strings.Clone) rather
	// than pin the whole batch.
	IDs []pushid.ID
	// Received counts every PushID read, sampled or not, duplicates
	// included, by app and source (IDs of unknown apps too).
	Received []pushid.Count
	// Events are push result events from Tencent's callbacks.
	Events []pushid.Event
	// Cursor, if non-nil, follows everything above.
	Cursor *Cursor
}

// Sink receives batches. The ledger implements it.
type Sink interface {
	// Offer hands b to the pipeline. It does not block on I/O. The caller
	// may reuse b's slices once Offer returns.
	Offer(b Batch)
	// Ratio is the share of app's PushIDs to hand on (see Batch.IDs); ok
	// is false for an app that is not configured. arrivals is how many of
	// the app's PushIDs the caller is about to decide on: the sink counts
	// them toward the arrival rate that sample_ratio: auto follows, and
	// cuts the ratio at once when they make a burst. So a source asks
	// again at least every AskEvery PushIDs.
	Ratio(app string, arrivals int) (ratio float64, ok bool)
	// Durable returns once everything offered before the call has been
	// saved to disk, or ctx ends. Webhooks call it before replying 2xx.
	Durable(ctx context.Context) error
	// Cursor returns the saved cursor for key, if any.
	Cursor(key string) ([]byte, bool)
	// Cursors returns the saved cursors whose keys start with prefix. A
	// file source reads them at start-up to find files rotated while the
	// exporter was down.
	Cursors(prefix string) map[string][]byte
}

// AskEvery is how many PushIDs a source may decide on with one answer of
// Sink.Ratio: a log read from its beginning is sampled at the old ratio
// for at most that many before a burst cuts it.
const AskEvery = 100

// Sample splits ids into those sink wants traced, kept in ids' backing
// array (the slice returned), and a count per app of all of them: the
// simple way for a source whose IDs are already strings.
func Sample(sink Sink, ids []pushid.ID) ([]pushid.ID, []pushid.Count) {
	var counts []pushid.Count
	kept := ids[:0]
	var (
		ratio float64
		known bool
		left  int // IDs that the last answer of Ratio covers
	)
	for i, id := range ids {
		if i == 0 || id.App != ids[i-1].App || left == 0 {
			left = runLen(ids[i:], AskEvery)
			ratio, known = sink.Ratio(id.App, left)
		}
		left--
		if n := len(counts); n > 0 && counts[n-1].App == id.App && counts[n-1].Source == id.Source {
			counts[n-1].N++
		} else {
			counts = append(counts, pushid.Count{App: id.App, Source: id.Source, N: 1})
		}
		if known && pushid.Sampled(pushid.Hash(id.PushID), ratio) {
			kept = append(kept, id)
		}
	}
	return kept, counts
}

// runLen is how many of the first ids, at most max, belong to ids[0]'s app.
func runLen(ids []pushid.ID, max int) int {
	n := 1
	for n < len(ids) && n < max && ids[n].App == ids[0].App {
		n++
	}
	return n
}

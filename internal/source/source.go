// Package source turns the outside world's signals — lines of log files and
// webhook requests — into pushid.ID values handed to a Sink. Sources know
// nothing of the Tencent API or of how IDs are sampled and queried.
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

// Sink receives PushIDs. The collector implements it.
type Sink interface {
	// Offer hands ids (possibly none) and, if non-nil, the cursor that
	// follows them to the pipeline. It does not block on I/O. The caller
	// may reuse ids once Offer returns, so a sink copies what it keeps. The
	// PushIDs of one call may share one string: a sink that keeps a few of
	// them copies those (strings.Clone) rather than pin the whole batch.
	Offer(ids []pushid.ID, cursor *Cursor)
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

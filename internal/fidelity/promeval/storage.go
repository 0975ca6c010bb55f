package promeval

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// head is the storage: a TSDB head, the in-memory part of Prometheus's
// storage that receives every scrape and rule result, without the
// write-ahead log (nothing has to survive the process) and without ever
// compacting to blocks. What is older than the retention is dropped by
// truncating the head, so memory stays bounded however long the
// simulation runs.
//
// The head writes full chunks to memory-mapped files under a directory of
// its own; New creates a temporary one and Close removes it.
type head struct {
	*tsdb.Head
	dir       string
	retention time.Duration
}

// truncateEvery is how much older than the retention the oldest sample may
// get before the head is truncated: truncation walks every series, so it is
// done once per simulated half hour rather than at every evaluation.
const truncateEvery = 30 * time.Minute

func newHead(retention time.Duration, logger *slog.Logger) (*head, error) {
	dir, err := os.MkdirTemp("", "promeval-")
	if err != nil {
		return nil, fmt.Errorf("creating the storage directory: %w", err)
	}
	opts := tsdb.DefaultHeadOptions()
	opts.ChunkDirRoot = dir
	// The default of 16384 stripes preallocates megabytes for a million
	// series; an exporter has hundreds to tens of thousands.
	opts.StripeSize = 1024
	// Isolation keeps queries from seeing appends still in flight; here
	// appends and queries never overlap (the Evaluator's mutex), and
	// without it every rule evaluation is about 15 % cheaper.
	opts.IsolationDisabled = true
	h, err := tsdb.NewHead(nil, logger, nil, nil, opts, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("creating the storage: %w", err)
	}
	if err := h.Init(math.MinInt64); err != nil {
		h.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initialising the storage: %w", err)
	}
	return &head{Head: h, dir: dir, retention: retention}, nil
}

// Querier serves PromQL and the rules, as a Prometheus without blocks
// queries its head.
func (h *head) Querier(mint, maxt int64) (storage.Querier, error) {
	return tsdb.NewBlockQuerier(tsdb.NewRangeHead(h.Head, mint, maxt), mint, maxt)
}

// dropOld truncates the head to the retention before now, once the oldest
// sample is truncateEvery past it. Samples older than the retention are no
// longer accepted after that.
func (h *head) dropOld(now time.Time) error {
	mint := now.Add(-h.retention).UnixMilli()
	if h.MinTime() >= mint-truncateEvery.Milliseconds() {
		return nil
	}
	if err := h.Truncate(mint); err != nil {
		return fmt.Errorf("dropping samples older than %s: %w", h.retention, err)
	}
	return nil
}

func (h *head) close() error {
	err := h.Close()
	if rmErr := os.RemoveAll(h.dir); err == nil {
		err = rmErr
	}
	return err
}

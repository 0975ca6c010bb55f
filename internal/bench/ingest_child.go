package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/exposition"
	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// childIngest reads the file through a File source into a collector and
// times it until its lines-read counter reaches the file's line count:
// what the source has done by then, offers included, is measured; the
// checkpoints that publish it come after.
func childIngest(raw json.RawMessage, profile string) (any, error) {
	var a ingestArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	// The store is not closed: the process exits after the measurement,
	// perhaps during a commit (see below).
	st, _, err := store.Open(a.StoreDir, store.Options{})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	app := benchApp{name: "bench", ratio: a.Ratio, queryDelay: time.Hour, maxPending: 100_000, tracer: idleTracer{}}
	if a.Auto {
		app.ratio = 0
	}
	c, err := newPipeline(st, reg, ledger.Options{}, app)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()

	sink := &countingSink{pipeline: c, reg: reg, want: a.Lines, done: make(chan struct{})}
	var re *regexp.Regexp
	if a.Format == source.FormatRegex {
		re = ingestRegex
	}
	f, err := source.NewFile(source.FileOptions{Pattern: a.Path, App: "bench", Format: a.Format, Regex: re,
		Metrics: source.NewFileMetrics(reg)}, sink)
	if err != nil {
		return nil, err
	}
	stop, err := startCPUProfile(profile)
	if err != nil {
		return nil, err
	}
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	fdone := make(chan error, 1)
	start, cpu0 := time.Now(), cpuTime()
	go func() { fdone <- f.Run(fctx) }()
	select {
	case <-sink.done:
	case <-time.After(10 * time.Minute):
		return nil, fmt.Errorf("only %d of %d lines read after 10 minutes", sink.lines.Load(), a.Lines)
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	stop()
	fcancel()
	<-fdone
	cancel()
	// The final checkpoint is not part of the figure; after a burst of
	// sampled IDs it can take minutes (see BENCHMARKS.md), so wait briefly.
	select {
	case err := <-runDone:
		if err != nil {
			return nil, err
		}
	case <-time.After(5 * time.Second):
	}
	return ingestResult{Seconds: elapsed.Seconds(), CPU: cpu.Seconds(), Lines: sink.lines.Load(), IDs: sink.ids.Load(),
		Sampled: gatherSum(exposition.Gatherer(c), "timpush_exporter_pushids_sampled_total", nil),
		Ratio:   gatherSum(reg, "timpush_exporter_sample_ratio", nil)}, nil
}

// countingSink is the collector as the File source's Sink. After each
// Offer it reads the source's lines-read counter (the File updates its
// metrics just before it offers), and signals done once the counter
// reaches want. The counter is gathered only once every ID was received:
// the last lines of the file have none.
type countingSink struct {
	*pipeline
	reg        prometheus.Gatherer
	ids, lines atomic.Int64
	want       int64 // lines
	once       sync.Once
	done       chan struct{}
}

func (s *countingSink) Offer(b source.Batch) {
	s.pipeline.Offer(b)
	n := 0
	for _, r := range b.Received {
		n += r.N
	}
	if s.ids.Add(int64(n)) < s.want/2 {
		return
	}
	lines := int64(gatherSum(s.reg, "timpush_exporter_file_lines_read_total", nil))
	s.lines.Store(lines)
	if lines >= s.want {
		s.once.Do(func() { close(s.done) })
	}
}

// idleTracer must never be called: the benchmarks that use it set a query
// delay longer than they run.
type idleTracer struct{}

func (idleTracer) Trace(context.Context, string) (*timapi.Trace, error) {
	return nil, errors.New("bench: unexpected trace query")
}

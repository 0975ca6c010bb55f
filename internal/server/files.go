package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/config"
	"github.com/timpush/timpush_exporter/internal/source"
)

// fileKey identifies a file source by its configuration's values: a reload
// that leaves a source's values alone leaves its tailer running. (Keys made
// by printing the config struct held the compiled regexp's pointer, so that
// every reload restarted every regex tailer.)
type fileKey struct {
	path, app, format, regex, jsonField, start string
	maxLineBytes                               int
}

func keyOf(fs config.FileSource) fileKey {
	return fileKey{fs.Path, fs.App, fs.Format, fs.Regex, fs.JSONField, fs.Start, fs.MaxLineBytes}
}

// files runs the file tailers. Reload swaps them: unchanged sources keep
// running, removed ones stop (offering their final cursors), new ones start
// from their saved positions.
type files struct {
	s *Server

	mu      sync.Mutex
	ctx     context.Context // set while run runs
	running map[fileKey]*tailer
	wg      sync.WaitGroup
}

type tailer struct {
	src     *source.File
	pattern string
	cancel  context.CancelFunc
	done    chan struct{}
}

// fileSet is a configuration's file sources, built, not running (nil:
// already running).
type fileSet map[fileKey]*tailer

// build makes a tailer for every source of cfg that is not running. It
// starts nothing.
func (f *files) build(cfg *config.Config) (fileSet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := fileSet{}
	for _, fs := range cfg.Sources.Files {
		k := keyOf(fs)
		if _, ok := f.running[k]; ok {
			set[k] = nil // keeps running
			continue
		}
		src, err := source.NewFile(source.FileOptions{
			Pattern: fs.Path, App: fs.App, Format: fs.Format, Regex: fs.Regexp(), JSONField: fs.JSONField,
			StartAtEnd: fs.Start != config.StartBeginning, MaxLineBytes: fs.MaxLineBytes,
			Clock: f.s.clock, Logger: log.With(f.s.logger, "source", fs.Path), Metrics: f.s.fileMetrics,
		}, f.s.ledger)
		if err != nil {
			return nil, fmt.Errorf("file source %s: %w", fs.Path, err)
		}
		set[k] = &tailer{src: src, pattern: fs.Path}
	}
	return set, nil
}

// apply stops the running tailers set does not keep, and starts its new
// ones (at once if run runs, else when it starts).
func (f *files) apply(set fileSet) {
	f.mu.Lock()
	var stopped []*tailer
	for k, t := range f.running {
		if _, keep := set[k]; !keep {
			stopped = append(stopped, t)
			delete(f.running, k)
		}
	}
	for k, t := range set {
		if t != nil {
			f.running[k] = t
			if f.ctx != nil {
				f.startLocked(t)
			}
		}
	}
	f.mu.Unlock()
	for _, t := range stopped {
		t.cancel()
		<-t.done
	}
}

func (f *files) startLocked(t *tailer) {
	ctx, cancel := context.WithCancel(f.ctx)
	t.cancel, t.done = cancel, make(chan struct{})
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(t.done)
		if err := t.src.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			level.Error(f.s.logger).Log("msg", "file source stopped", "source", t.pattern, "err", err)
			f.s.health.fail("file source "+t.pattern, err)
		}
	}()
}

// run runs the tailers until ctx ends, then stops them; each offers its
// final cursor before it returns.
func (f *files) run(ctx context.Context) {
	f.mu.Lock()
	f.ctx = ctx
	for _, t := range f.running {
		f.startLocked(t)
	}
	f.mu.Unlock()
	<-ctx.Done()
	f.mu.Lock()
	f.ctx = nil
	f.mu.Unlock()
	f.wg.Wait()
}

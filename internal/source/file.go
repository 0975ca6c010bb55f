package source

// File tailing watches by polling, not fsnotify. Every PollInterval
// (250 ms) one goroutine per configured glob lists the glob's directory,
// stats each match and reads what was appended. Why:
//
//   - Rotation is seen the same way whatever the scheme: a path whose inode
//     changed (rename + create, delete + create, a repointed symlink), a
//     size below the offset or a changed first-bytes fingerprint
//     (copytruncate), a file gone from the glob. With fsnotify each scheme
//     is a different event sequence (RENAME on the old name, CREATE later,
//     WRITE on a watch that may be gone), events can be coalesced or lost
//     on queue overflow, and a stat pass is needed anyway to recover.
//   - inotify does not work on NFS/SMB/FUSE and across some container
//     bind mounts, and its per-user watch limit (fs.inotify.max_user_watches,
//     max_user_instances 128 on many distributions) is shared with every
//     other process on the host.
//   - It is cheap: 100 idle files cost one readdir and 100 stats per poll,
//     0.19 ms (BenchmarkFilePollIdle), 0.3-0.5 % of one core for the whole
//     process; a file growing by 4.5 MB/s costs 2.7 %, by 45 MB/s 23 %
//     (TestFileCPUMeasurement, 2-core Xeon VM). A growing file is read in
//     64 KiB chunks to its end on every poll, so latency is at most one
//     interval and throughput is not bounded by it.
//
// The poll timer comes from the injected clock, so tests step time. The
// glob is listed with os.ReadDir, not filepath.Glob, so that a listing
// that fails (descriptors exhausted) changes nothing instead of looking
// like every file left (file_scan.go); files idle for a minute are closed
// until they grow, so that a glob of thousands of finished files does not
// hold thousands of descriptors (file_idle.go).
//
// A file's cursor is saved under "file:"+its path while it matches the
// glob. Once it leaves the glob (renamed away or deleted) its path may soon
// name the file that replaced it, so while it is read to its end its
// cursor moves to a key of its own, "file:"+its last path+"@inode:"+inode
// (drainKey), deleted when the file is done. At start-up every saved cursor
// of this glob whose file is no longer at its path is looked up by identity
// in that directory: a file rotated out while the exporter was down is read
// from the saved offset to its end (file_rotated.go).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pushid"
)

// Defaults of FileOptions.
const (
	DefaultMaxLineBytes = 64 << 10
	DefaultPollInterval = 250 * time.Millisecond
	DefaultIdleClose    = time.Minute
	DefaultMaxOpenFiles = 32
)

const (
	readBufferBytes = 64 << 10 // one read
	maxBatchIDs     = 1000     // sampled IDs per Offer
	maxReadPerPoll  = 16 << 20 // per file and poll, so one busy file cannot starve the others
)

// FileOptions configure one file source: one glob.
type FileOptions struct {
	Pattern      string         // glob, also the `source` label value
	App          string         // app of the IDs when the regex has no (or an empty) group app
	Format       string         // FormatRegex, FormatJSON or FormatPlain
	Regex        *regexp.Regexp // format regex: named group push_id, optional group app; leftmost-first (not made Longest)
	JSONField    string         // format json: dotted path, DefaultJSONField if empty
	StartAtEnd   bool           // a file present at start-up without a saved cursor starts at its end
	MaxLineBytes int            // longer lines are skipped and counted; DefaultMaxLineBytes if 0
	PollInterval time.Duration  // DefaultPollInterval if 0
	IdleClose    time.Duration  // a file that has not grown for this long is closed until it does; DefaultIdleClose if 0
	MaxOpenFiles int            // files held open at most (those being drained or behind aside); DefaultMaxOpenFiles if 0
	Clock        clock.Clock    // clock.Real if nil
	Logger       log.Logger     // no logging if nil; the caller adds the source
	Metrics      *FileMetrics   // shared by all file sources; unregistered metrics if nil

	readDir func(string) ([]os.DirEntry, error) // os.ReadDir if nil; tests inject failures
}

// File follows the files matching one glob and offers the PushIDs in their
// lines to a Sink, each batch with the cursor that follows it.
type File struct {
	opts   FileOptions
	sink   Sink
	ext    lineExtractor
	glob   string // absolute Pattern
	logger log.Logger
	m      *fileMetrics

	// Owned by the Run goroutine.
	followers []*follower // in the order they were opened
	byID      map[fileIdentity]*follower
	orphans   map[string]string                   // cursor keys no follower uses any more, to their path
	stale     map[string]bool                     // cursor keys replaced by another: deleted at the end of the poll unless in use
	resume    map[string]moved                    // first poll: saved positions of files renamed within the glob, by new path
	started   bool                                // the first poll is done: files seen later are new
	openErrs  map[string]string                   // last open error logged per path, to log each once
	ignored   map[string]string                   // paths matching the glob that are not files, to why (logged once)
	listErr   string                              // the error of the failing listings, "" while listing works
	readDir   func(string) ([]os.DirEntry, error) // FileOptions.readDir
	buf       []byte                              // read buffer shared by all followers
	sampler   *fileSampler
	appNames  map[string]string // app names read from lines (see appName)
	ids       []pushid.ID       // sampled IDs of the batch being built; batch fills in the PushIDs
	idBytes   []byte            // the batch's PushIDs, one after another
	idEnds    []int             // where each PushID ends in idBytes
	counts    lineCounts
}

// NewFile checks o, fills in its defaults and returns the source. Run
// starts following.
func NewFile(o FileOptions, sink Sink) (*File, error) {
	if o.Pattern == "" {
		return nil, errors.New("file source: empty path")
	}
	if _, err := filepath.Match(o.Pattern, ""); err != nil {
		return nil, fmt.Errorf("file source %q: %w", o.Pattern, err)
	}
	glob, err := filepath.Abs(o.Pattern)
	if err != nil {
		return nil, fmt.Errorf("file source %q: %w", o.Pattern, err)
	}
	ext, err := newExtractor(o.Format, o.Regex, o.JSONField)
	if err != nil {
		return nil, fmt.Errorf("file source %q: %w", o.Pattern, err)
	}
	if o.MaxLineBytes < 0 || o.PollInterval < 0 || o.IdleClose < 0 || o.MaxOpenFiles < 0 {
		return nil, fmt.Errorf("file source %q: negative max_line_bytes, poll interval, idle close or max open files", o.Pattern)
	}
	if o.MaxLineBytes == 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.IdleClose == 0 {
		o.IdleClose = DefaultIdleClose
	}
	if o.MaxOpenFiles == 0 {
		o.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.readDir == nil {
		o.readDir = os.ReadDir
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.Metrics == nil {
		o.Metrics = NewFileMetrics(nil)
	}
	return &File{
		opts:     o,
		sink:     sink,
		ext:      ext,
		glob:     glob,
		logger:   o.Logger,
		m:        o.Metrics.forSource(o.Pattern),
		byID:     make(map[fileIdentity]*follower),
		orphans:  make(map[string]string),
		stale:    make(map[string]bool),
		openErrs: make(map[string]string),
		ignored:  make(map[string]string),
		readDir:  o.readDir,
		buf:      make([]byte, readBufferBytes),
		sampler:  newFileSampler(sink),
		appNames: make(map[string]string),
	}, nil
}

// Run follows the files until ctx ends, then offers the cursor of every
// followed file and closes them. It returns nil; problems with single files
// are logged and retried. Run must not be called twice.
func (f *File) Run(ctx context.Context) error {
	defer f.stop()
	for {
		behind := f.poll()
		wait := f.opts.PollInterval
		if behind {
			wait = 0 // a file has more than one poll's share left: go on at once
		}
		t := f.opts.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// stop offers the final cursors, those of files being drained included,
// and closes the files.
func (f *File) stop() {
	for _, fl := range f.followers {
		f.sink.Offer(Batch{Cursor: fl.cursor()})
		fl.close()
	}
	f.followers, f.byID = nil, make(map[fileIdentity]*follower)
	f.m.followed.Set(0)
	f.m.open.Set(0)
}

// match is a regular file the glob matched.
type match struct {
	path string
	id   fileIdentity
	size int64
}

// poll does one pass: finish files that left the glob, read the followed
// ones, open new ones, close idle ones. It reports whether some file was
// left unread. A poll that cannot list the glob only reads the files it has
// open: it cannot tell what left or joined the glob, so it decides nothing
// about that (no drain, no deleted cursor, no file read again).
func (f *File) poll() (behind bool) {
	f.sampler.newPoll()
	matches, unknown, err := f.scan()
	if err != nil {
		f.listFailed(err)
		return f.readOpen()
	}
	f.listWorks()
	if !f.started {
		f.recoverRotated(matches)
	}
	dirs := make(map[string]map[uint64][]string) // listings for files that left while closed
	kept := f.followers[:0]
	for _, fl := range f.followers {
		m, ok := matches[fl.id]
		switch {
		case ok:
			delete(matches, fl.id)
			f.follow(fl, m)
		case unknown[fl.path] && !fl.draining:
			// Its path could not be examined: it may still be there.
		case fl.file == nil:
			if !f.leftWhileClosed(fl, dirs) {
				continue
			}
		default:
			if !f.drain(fl) {
				continue
			}
		}
		behind = behind || fl.behind
		kept = append(kept, fl)
	}
	clear(f.followers[len(kept):])
	f.followers = kept

	for _, m := range sortedMatches(matches) {
		fl := f.open(m)
		if fl == nil {
			continue
		}
		f.followers = append(f.followers, fl)
		f.byID[fl.id] = fl
		f.read(fl)
		behind = behind || fl.behind
	}
	f.started, f.resume = true, nil
	f.dropStale()
	f.forgetGone()
	f.closeIdle()
	f.updateGauges()
	return behind
}

func sortedMatches(ms map[fileIdentity]match) []match {
	s := make([]match, 0, len(ms))
	for _, m := range ms {
		s = append(s, m)
	}
	sort.Slice(s, func(i, j int) bool { return s[i].path < s[j].path })
	return s
}

// follow reads a followed file that still matches the glob, perhaps under
// a new name, from its offset or, if it was truncated, from the start. A
// file being drained that is back in the glob is followed again.
func (f *File) follow(fl *follower, m match) {
	switch {
	case fl.draining:
		level.Debug(f.logger).Log("msg", "file back in the glob", "path", m.path)
		f.stale[fl.key] = true
		fl.draining = false
		fl.setPath(m.path)
		fl.offered = -1
	case m.path != fl.path:
		level.Debug(f.logger).Log("msg", "followed file renamed within the glob", "from", fl.path, "to", m.path)
		f.orphans[fl.key] = fl.path
		fl.setPath(m.path)
		fl.offered = -1 // save the position under the new name
	}
	if fl.file == nil {
		if m.size == fl.size {
			f.flush(fl) // idle, it stays closed; renamed, its cursor moves to the new name now
			return
		}
		if !f.reopen(fl, m.path) {
			return
		}
	}
	f.checkTruncated(fl, m.size)
	f.read(fl)
}

// checkTruncated makes fl read its file from the start if the file's size
// or first bytes say it was truncated or rewritten.
func (f *File) checkTruncated(fl *follower, size int64) {
	if why := fl.truncated(size); why != "" {
		level.Info(f.logger).Log("msg", "file truncated, reading it from the start", "path", fl.path, "why", why)
		f.m.truncations.Inc()
		fl.restart()
	}
}

// drain reads a file that left the glob (renamed away or deleted) to its
// end. It keeps the file one more poll, for lines its writer appends before
// reopening, and closes it once a poll finds nothing new; the last line is
// then complete even without a newline. Meanwhile its cursor is saved under
// its drain key, and deleted with the last IDs. It reports whether fl is
// kept.
func (f *File) drain(fl *follower) bool {
	if !fl.draining {
		level.Debug(f.logger).Log("msg", "file left the glob, reading it to its end", "path", fl.path)
		f.m.rotations.Inc()
		f.startDrain(fl)
	}
	if _, size, err := statIdentity(fl.file); err == nil {
		fl.size = size
	}
	n := f.read(fl)
	if n > 0 || !fl.drainedOnce || fl.behind {
		fl.drainedOnce = true
		return true
	}
	f.finish(fl)
	return false
}

// finish stops following a file that left the glob and was read to its
// end: its unfinished last line counts as complete, and its cursor ends
// with its last IDs.
func (f *File) finish(fl *follower) {
	f.finishLine(fl)
	f.m.add(&f.counts)
	f.offer(&Cursor{Key: fl.key}) // the last IDs and the end of the cursor, saved together
	fl.close()
	delete(f.byID, fl.id)
	level.Debug(f.logger).Log("msg", "stopped following file", "path", fl.path)
}

func (f *File) updateGauges() {
	var unread int64
	open := 0
	for _, fl := range f.followers {
		unread += max(0, fl.size-fl.offset)
		if fl.file != nil {
			open++
		}
	}
	f.m.unread.Set(float64(unread))
	f.m.followed.Set(float64(len(f.followers)))
	f.m.open.Set(float64(open))
}

// logOpenError logs a file that cannot be opened once per distinct error.
func (f *File) logOpenError(path string, err error) {
	if f.openErrs[path] == err.Error() {
		return
	}
	f.openErrs[path] = err.Error()
	level.Warn(f.logger).Log("msg", "cannot follow file", "path", path, "err", err)
}

package source

// Descriptors. A glob over dated or per-instance names can match
// thousands of files, most of them finished; one descriptor each would
// exhaust the process's limit (1024 by default under many init systems)
// and with it the webhook listener. So a followed file that has not grown
// for IdleClose (1 minute) is closed, and at most MaxOpenFiles (32) per
// source stay open, the most recently grown ones; files being drained or
// read in several polls are never closed. Why this policy and not, say,
// closing every file after each read: a file being written to keeps its
// descriptor, so the usual case costs no open per poll, and what a closed
// file needs is what the poll does anyway (one stat per path).
//
// A closed file is still watched exactly: the poll's stat gives its
// identity and size at its path. It is reopened when its size changes,
// and read on from its offset after the usual truncation checks (size
// below the offset, first bytes changed). One that left the glob while
// closed (rename + create, push.log → push.log.1) is looked up by inode
// and fingerprint in its directory, as at start-up (locate), and read to
// its end. What a closed file cannot give: lines written to it after the
// last poll and before it was deleted or moved to another directory
// within the same poll interval; a held descriptor would still read them.
// And an inode freed and reused while closed by a file with the same
// first bytes would be taken for the old file; a different first 256
// bytes (the usual case: a timestamp) makes it read from the start.

import (
	"errors"
	"os"
	"path/filepath"
	"sort"

	"github.com/go-kit/log/level"
)

// close closes fl's file, if open; fl stays followed.
func (fl *follower) close() {
	if fl.file != nil {
		fl.file.Close()
		fl.file = nil
	}
}

// reopen opens the file of a closed follower at path; false if it cannot
// be opened or is another file now (replaced since the scan: the next poll
// sees what it is).
func (f *File) reopen(fl *follower, path string) bool {
	file, fi, err := openRegular(path)
	if err != nil {
		f.logOpenError(path, err)
		return false
	}
	if identityOf(fi) != fl.id {
		file.Close()
		return false
	}
	delete(f.openErrs, path)
	fl.file = file
	return true
}

// leftWhileClosed handles a closed file whose identity the glob no longer
// matches: found in its directory under another name, it is read to its
// end like any file that left; gone, it is finished; if its directory
// cannot be listed, nothing changes. It reports whether fl is kept.
func (f *File) leftWhileClosed(fl *follower, dirs map[string]map[uint64][]string) bool {
	p := position{Offset: fl.offset, Dev: fl.id.dev, Ino: fl.id.ino, FP: fl.fp, FPLen: fl.fpLen}
	path, id, _, err := f.locate(p, filepath.Dir(fl.path), nil, dirs)
	switch {
	case err == nil && id == fl.id:
		if !f.reopen(fl, path) {
			return true // the next poll tries again
		}
		level.Debug(f.logger).Log("msg", "closed file left the glob, reading it to its end", "path", fl.path, "now", path)
		return f.drain(fl)
	case err == nil || errors.Is(err, os.ErrNotExist):
		level.Debug(f.logger).Log("msg", "closed file left the glob and is gone", "path", fl.path)
		f.m.rotations.Inc()
		f.startDrain(fl)
		f.finish(fl)
		return false
	default:
		level.Warn(f.logger).Log("msg", "cannot look for a closed file that left the glob", "path", fl.path, "err", err)
		return true
	}
}

// closeIdle closes the files that have not grown for IdleClose, and the
// least recently grown beyond MaxOpenFiles.
func (f *File) closeIdle() {
	now := f.opts.Clock.Now()
	var open []*follower
	for _, fl := range f.followers {
		if fl.file == nil || fl.draining || fl.behind {
			continue
		}
		if now.Sub(fl.grew) >= f.opts.IdleClose {
			fl.close()
			continue
		}
		open = append(open, fl)
	}
	if len(open) <= f.opts.MaxOpenFiles {
		return
	}
	sort.SliceStable(open, func(i, j int) bool { return open[i].grew.After(open[j].grew) })
	for _, fl := range open[f.opts.MaxOpenFiles:] {
		fl.close()
	}
}

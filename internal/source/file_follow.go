package source

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"

	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// follower is one followed file.
type follower struct {
	path, key string
	file      *os.File // nil while closed for being idle (file_idle.go)
	id        fileIdentity
	grew      time.Time // when a read last found new bytes, or the file was opened

	offset    int64  // next byte to read
	lineStart int64  // just after the last newline read: the cursor's offset
	offered   int64  // lineStart of the last cursor offered, -1 for none
	size      int64  // last size seen
	partial   []byte // the incomplete line at offset, waiting for its newline
	skipping  bool   // discarding the rest of a too long line
	skipCount bool   // ... and counting it as too_long when it ends

	fp    uint64 // fingerprint of the first fpLen bytes
	fpLen int

	behind      bool // the last read stopped at maxReadPerPoll
	draining    bool // left the glob: read to the end, then closed
	drainedOnce bool
}

func (fl *follower) setPath(p string) {
	fl.path, fl.key = p, "file:"+p
}

func (fl *follower) cursor() *Cursor {
	p := position{Offset: fl.lineStart, Dev: fl.id.dev, Ino: fl.id.ino, FP: fl.fp, FPLen: fl.fpLen}
	return &Cursor{Key: fl.key, Value: p.encode()}
}

// restart makes fl read its file from the start again.
func (fl *follower) restart() {
	fl.offset, fl.lineStart, fl.offered = 0, 0, -1
	fl.partial, fl.skipping = fl.partial[:0], false
}

// truncated compares the file's size and first bytes with what was seen
// before and says why the file must be read again from the start, or "".
// Growth re-checks the fingerprint, which catches a copytruncate whose file
// grew past the offset again within one poll.
func (fl *follower) truncated(size int64) string {
	last := fl.size
	fl.size = size
	switch {
	case size < fl.offset:
		why := fmt.Sprintf("size %d below offset %d", size, fl.offset)
		fl.refingerprint(size, 0)
		return why
	case size < int64(fl.fpLen):
		why := fmt.Sprintf("size %d below the %d fingerprinted bytes", size, fl.fpLen)
		fl.refingerprint(size, 0)
		return why
	case size != last && !fl.refingerprint(size, fl.fpLen):
		return "its first bytes changed"
	}
	return ""
}

// refingerprint takes the fingerprint of the first bytes of a file of size
// and reports whether their first keep bytes are still those fingerprinted
// before. On a read error (the file shrank meanwhile) it keeps the first
// keep bytes' fingerprint, or none if keep is 0: the next poll retries.
func (fl *follower) refingerprint(size int64, keep int) bool {
	var buf [fingerprintBytes]byte
	n := fingerprintLen(size)
	if _, err := fl.file.ReadAt(buf[:n], 0); err != nil {
		if keep == 0 {
			fl.fp, fl.fpLen = fnv.New64a().Sum64(), 0
		}
		return true
	}
	h := fnv.New64a()
	h.Write(buf[:keep])
	same := h.Sum64() == fl.fp
	h.Write(buf[keep:n])
	fl.fp, fl.fpLen = h.Sum64(), n
	return same
}

// open starts following the file m, at the saved cursor, at its end or at
// its start (see startAt). It returns nil if the file cannot be read or is
// followed already (the name was given to it since the scan).
func (f *File) open(m match) *follower {
	file, fi, err := openRegular(m.path)
	if err != nil {
		f.logOpenError(m.path, err)
		return nil
	}
	fl := &follower{file: file, offered: -1, grew: f.opts.Clock.Now()}
	fl.setPath(m.path)
	fl.id, fl.size = identityOf(fi), fi.Size()
	fl.fpLen = fingerprintLen(fl.size)
	fl.fp, err = fingerprint(file, fl.fpLen)
	if err != nil {
		file.Close()
		f.logOpenError(m.path, err)
		return nil
	}
	if _, dup := f.byID[fl.id]; dup {
		file.Close()
		return nil
	}
	delete(f.openErrs, m.path)
	fl.offset, fl.skipping = f.startAt(fl, fl.size)
	fl.lineStart = fl.offset
	level.Info(f.logger).Log("msg", "following file", "path", m.path, "offset", fl.offset, "size", fl.size)
	return fl
}

// startAt returns where to start reading a newly opened file: at the saved
// cursor if it is still this file's; at 0 if it is not (the file is new
// or was truncated); without a cursor at the end of the last complete line
// for files present at start-up with StartAtEnd, else at 0 (a file that
// appears later is new). skip is true when that end is inside a line.
func (f *File) startAt(fl *follower, size int64) (offset int64, skip bool) {
	if r, ok := f.resume[fl.path]; ok {
		delete(f.resume, fl.path)
		if off, err := r.pos.resumeAt(fl.file, fl.id, size); err == nil {
			level.Info(f.logger).Log("msg", "file renamed within the glob while stopped, resuming it under its new name", "path", fl.path, "key", r.from, "offset", off)
			f.stale[r.from] = true
			return off, false
		}
	}
	if v, ok := f.sink.Cursor(fl.key); ok && v != nil {
		p, err := decodePosition(v)
		if err != nil {
			level.Warn(f.logger).Log("msg", "unreadable saved position, reading the file from the start", "path", fl.path, "err", err)
			return 0, false
		}
		off, err := p.resumeAt(fl.file, fl.id, size)
		if err != nil {
			level.Info(f.logger).Log("msg", "reading the file from the start", "path", fl.path, "err", err)
			return 0, false
		}
		return off, false
	}
	if f.started || !f.opts.StartAtEnd || size == 0 {
		return 0, false
	}
	return lastLineEnd(fl.file, size, f.buf)
}

// lastLineEnd returns the offset just after the last newline in the last
// len(buf) bytes of a file of size; 0 if the whole file is one unfinished
// line; size with skip if the last line is longer than that.
func lastLineEnd(r io.ReaderAt, size int64, buf []byte) (offset int64, skip bool) {
	n := min(size, int64(len(buf)))
	buf = buf[:n]
	if _, err := r.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
		return size, true
	}
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		return size - n + int64(i) + 1, false
	}
	if n == size {
		return 0, false
	}
	return size, true
}

// read reads fl from its offset to the end of the file (or maxReadPerPoll)
// and offers what it found. It returns the number of bytes read.
func (f *File) read(fl *follower) int64 {
	var total int64
	fl.behind = false
	for {
		if total >= maxReadPerPoll {
			fl.behind = true
			break
		}
		n, err := fl.file.ReadAt(f.buf, fl.offset)
		if n > 0 {
			f.consume(fl, f.buf[:n])
			total += int64(n)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				level.Warn(f.logger).Log("msg", "reading file", "path", fl.path, "err", err)
			}
			break
		}
	}
	f.counts.bytes += int(total)
	fl.size = max(fl.size, fl.offset)
	if total > 0 {
		fl.grew = f.opts.Clock.Now()
	}
	f.flush(fl)
	return total
}

// consume splits chunk, the bytes at fl.offset, into lines and extracts
// their IDs, keeping an incomplete last line for the next chunk.
func (f *File) consume(fl *follower, chunk []byte) {
	base := fl.offset
	fl.offset += int64(len(chunk))
	now := f.opts.Clock.Now()
	for pos := 0; pos < len(chunk); {
		i := bytes.IndexByte(chunk[pos:], '\n')
		if i < 0 {
			rest := chunk[pos:]
			switch {
			case fl.skipping:
			case len(fl.partial)+len(rest) > f.opts.MaxLineBytes:
				fl.skipping, fl.skipCount = true, true
				fl.partial = fl.partial[:0]
			default:
				fl.partial = append(fl.partial, rest...)
			}
			return
		}
		line := chunk[pos : pos+i]
		pos += i + 1
		fl.lineStart = base + int64(pos)
		if fl.skipping {
			fl.skipping = false
			if fl.skipCount {
				f.counts.lines++
				f.counts.tooLong++
			}
			continue
		}
		if len(fl.partial) > 0 {
			fl.partial = append(fl.partial, line...)
			line = fl.partial
		}
		f.line(line, now)
		fl.partial = fl.partial[:0]
		if len(f.ids) >= maxBatchIDs {
			f.flush(fl)
		}
	}
}

// line extracts the ID of one complete line (without its newline) and, if
// the sampler keeps it, adds it to the batch being built.
func (f *File) line(line []byte, now time.Time) {
	f.counts.lines++
	if len(line) > f.opts.MaxLineBytes {
		f.counts.tooLong++
		return
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	var (
		id, appBytes []byte
		h            uint64
		reason       string
	)
	if p, plain := f.ext.(plainExtractor); plain {
		id, h, reason = p.extractHashed(line)
	} else {
		id, appBytes, reason = f.ext.extract(line)
		if reason == "" {
			h = pushid.HashBytes(id)
		}
	}
	if reason != "" {
		f.counts.skip(reason)
		return
	}
	f.counts.withID++
	app := f.appName(appBytes)
	if !f.sampler.keep(app, h) {
		return
	}
	f.ids = append(f.ids, pushid.ID{App: app, Source: pushid.SourceFile, Seen: now})
	f.idBytes = append(f.idBytes, id...)
	f.idEnds = append(f.idEnds, len(f.idBytes))
}

// appName is the app a line names (the regex group app), or the source's
// when it names none. Names are kept, so that a log of one app does not
// make a string per line.
func (f *File) appName(b []byte) string {
	if len(b) == 0 {
		return f.opts.App
	}
	if s, ok := f.appNames[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(f.appNames) < maxSampledApps {
		f.appNames[s] = s
	}
	return s
}

// batch returns the sampled IDs of the batch being built, for one Offer,
// and starts the next. Their PushIDs share one string, and the slice is
// used again for the next batch: a string per ID and a new slice per
// batch were the largest costs of reading a plain log before sampling
// moved into the source.
func (f *File) batch() []pushid.ID {
	all := string(f.idBytes)
	start := 0
	for i, end := range f.idEnds {
		f.ids[i].PushID = all[start:end]
		start = end
	}
	ids := f.ids
	f.ids, f.idBytes, f.idEnds = f.ids[:0], f.idBytes[:0], f.idEnds[:0]
	return ids
}

// finishLine takes the unfinished last line of a file that is closed for
// good as complete.
func (f *File) finishLine(fl *follower) {
	switch {
	case fl.skipping && fl.skipCount:
		f.counts.lines++
		f.counts.tooLong++
	case !fl.skipping && len(fl.partial) > 0:
		f.line(fl.partial, f.opts.Clock.Now())
	}
	fl.partial, fl.skipping = nil, false
}

// flush updates the metrics and offers the batch with fl's cursor.
func (f *File) flush(fl *follower) {
	f.m.add(&f.counts)
	var c *Cursor
	if fl.lineStart != fl.offered {
		c = fl.cursor()
		fl.offered = fl.lineStart
	}
	if len(f.ids) == 0 && len(f.sampler.received) == 0 && c == nil {
		return
	}
	f.offer(c)
}

// offer hands the batch being built, the receive counts and c to the sink.
func (f *File) offer(c *Cursor) {
	f.sink.Offer(Batch{IDs: f.batch(), Received: f.sampler.take(), Cursor: c})
}

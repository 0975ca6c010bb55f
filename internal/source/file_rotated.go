package source

// Cursors of files that left the glob. A file's cursor is saved under the
// path it has in the glob, and that path soon names the file that replaced
// it (rename + create). So while a file that left is read to its end its
// cursor has a key of its own (drainKey), and after a restart a cursor
// whose file is no longer at its path may belong to a file that lives on
// next to it under a rotated name (push.log.1, push.log-20261125), with
// lines after the saved offset that nobody read. At start-up each such
// cursor is looked up by identity — inode and fingerprint, as resumeAt
// checks them — first among the files the glob matches, then among the
// other files of its directory.

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-kit/log/level"
)

const (
	cursorPrefix = "file:"
	drainKeySep  = "@inode:"
)

// drainKey is the cursor key of a file that left the glob while it is read
// to its end: its last path in the glob and its inode. The path ties the
// cursor to the glob that followed the file and to the directory to look
// in after a restart; the inode keeps it apart from the cursor of the file
// that took the name, and from other rotations of that name.
func drainKey(path string, ino uint64) string {
	return cursorPrefix + path + drainKeySep + strconv.FormatUint(ino, 10)
}

// cursorPath returns the path a cursor key names (for a drain key the
// file's last path in the glob) and whether it is a drain key.
func cursorPath(key string) (path string, drain bool) {
	rest := strings.TrimPrefix(key, cursorPrefix)
	if i := strings.LastIndex(rest, drainKeySep); i >= 0 {
		if _, err := strconv.ParseUint(rest[i+len(drainKeySep):], 10, 64); err == nil {
			return rest[:i], true
		}
	}
	return rest, false
}

// startDrain moves fl's cursor from its path, which may already name the
// file that replaced it, to its drain key. The path's key is dropped at the
// end of the poll unless a file followed under that name uses it by then.
func (f *File) startDrain(fl *follower) {
	f.stale[fl.key] = true
	fl.key = drainKey(fl.path, fl.id.ino)
	fl.draining, fl.drainedOnce, fl.offered = true, false, -1 // the next flush saves it
}

// dropStale deletes the cursor keys that were replaced by others during
// the poll and that no follower uses now. A path that still exists keeps a
// blank position instead: the file there was not followed (unreadable, not
// yet opened), and when it is, it must be read from its start, not from its
// end as a file without a cursor present at start-up would be.
func (f *File) dropStale() {
	for key := range f.stale {
		delete(f.stale, key)
		if f.keyInUse(key) {
			continue
		}
		path, drain := cursorPath(key)
		if _, err := os.Lstat(path); drain || errors.Is(err, os.ErrNotExist) {
			f.sink.Offer(Batch{Cursor: &Cursor{Key: key}})
			continue
		}
		f.sink.Offer(Batch{Cursor: &Cursor{Key: key, Value: position{}.encode()}})
	}
}

// moved is a saved position that belongs to a file now under another name
// in the glob, and the key it was saved under.
type moved struct {
	pos  position
	from string
}

// rotatedFile is a file outside the glob that a saved cursor belongs to.
type rotatedFile struct {
	key, was, path string // the cursor's key, its path in the glob, the file's path now
	pos            position
	id             fileIdentity
	size           int64
}

// recoverRotated runs in the first poll, before any file is opened. For
// each saved cursor of this glob whose file is no longer at its path it
// finds the file: renamed within the glob, its position is handed to the
// open of its new name (f.resume); renamed out of the glob, it is read
// from the saved position to its end under its drain key; gone (deleted,
// compressed), the cursor is forgotten. A replaced cursor is dropped at the
// end of the poll, after the file that took its path, if any, has read it
// (and so starts at 0, not at its end) and replaced it.
func (f *File) recoverRotated(matches map[fileIdentity]match) {
	f.resume = make(map[string]moved)
	lost, settled := f.lostCursors(matches)
	dirs := make(map[string]map[uint64][]string)
	drains := make(map[fileIdentity]*rotatedFile)
	for _, c := range lost {
		path, id, size, err := f.locate(c.pos, filepath.Dir(c.was), matches, dirs)
		switch {
		case errors.Is(err, os.ErrNotExist):
			level.Info(f.logger).Log("msg", "followed file gone while stopped (deleted or compressed), forgetting its position",
				"path", c.was, "offset", c.pos.Offset)
			f.stale[c.key] = true
		case err != nil:
			level.Warn(f.logger).Log("msg", "cannot look for a file rotated while stopped", "path", c.was, "err", err)
		case settled[id]:
			f.stale[c.key] = true // an older copy of the cursor under its own name
		case matches[id].path == path: // renamed within the glob
			if r, dup := f.resume[path]; !dup || r.pos.Offset < c.pos.Offset {
				if dup {
					f.stale[r.from] = true
				}
				f.resume[path] = moved{pos: c.pos, from: c.key} // startAt drops c.key once used
			} else {
				f.stale[c.key] = true
			}
		default:
			if r, dup := drains[id]; dup {
				if r.pos.Offset >= c.pos.Offset {
					f.stale[c.key] = true
					continue
				}
				f.stale[r.key] = true
			}
			drains[id] = &rotatedFile{key: c.key, was: c.was, path: path, pos: c.pos, id: id, size: size}
		}
	}
	for _, r := range slices.SortedFunc(maps.Values(drains), func(a, b *rotatedFile) int { return strings.Compare(a.path, b.path) }) {
		f.drainRotated(r)
	}
}

// lostCursor is a saved cursor of this glob whose file is not at its path.
type lostCursor struct {
	key, was string // the key, the path in the glob it names
	pos      position
}

// lostCursors sorts the saved cursors of this glob: those of files at their
// path, which startAt resumes (settled, by the file's identity), and the
// lost ones. Other sources' cursors are left alone, and blank or
// unreadable ones of rotated files marked stale.
func (f *File) lostCursors(matches map[fileIdentity]match) (lost []lostCursor, settled map[fileIdentity]bool) {
	saved := f.sink.Cursors(cursorPrefix)
	byPath := make(map[string]match, len(matches))
	for _, m := range matches {
		byPath[m.path] = m
	}
	settled = make(map[fileIdentity]bool)
	for _, key := range slices.Sorted(maps.Keys(saved)) {
		was, drain := cursorPath(key)
		if ok, _ := filepath.Match(f.glob, was); !ok {
			continue // another source's
		}
		p, err := decodePosition(saved[key])
		switch {
		case err != nil && drain:
			level.Warn(f.logger).Log("msg", "unreadable saved position of a rotated file, forgetting it", "key", key, "err", err)
			f.stale[key] = true
			continue
		case err != nil:
			continue // startAt reads the file at the path from its start
		case p.Ino == 0:
			f.stale[key] = true // blank (see dropStale): kept while its path exists
			continue
		}
		if m, ok := byPath[was]; ok && !drain && m.id.ino == p.Ino {
			// The usual case: startAt resumes it, or reads it from the
			// start if its first bytes changed (then the file of the
			// cursor is gone: its inode was freed and reused).
			settled[m.id] = true
			continue
		}
		lost = append(lost, lostCursor{key, was, p})
	}
	return lost, settled
}

// locate finds the file of p: among the glob's matches, or else among the
// regular files of dir (one ReadDir and Lstat per entry, cached in dirs).
// It returns an error wrapping os.ErrNotExist if there is none.
func (f *File) locate(p position, dir string, matches map[fileIdentity]match, dirs map[string]map[uint64][]string) (string, fileIdentity, int64, error) {
	for _, m := range sortedMatches(matches) {
		if m.id.ino != p.Ino {
			continue
		}
		if id, size, ok := isFileOf(m.path, p); ok {
			return m.path, id, size, nil
		}
	}
	inodes, ok := dirs[dir]
	if !ok {
		entries, err := f.readDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fileIdentity{}, 0, err
		}
		inodes = make(map[uint64][]string)
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			ino := identityOf(fi).ino
			inodes[ino] = append(inodes[ino], e.Name()) // ReadDir sorts by name
		}
		dirs[dir] = inodes
	}
	for _, name := range inodes[p.Ino] {
		path := filepath.Join(dir, name)
		if id, size, ok := isFileOf(path, p); ok {
			return path, id, size, nil
		}
	}
	return "", fileIdentity{}, 0, os.ErrNotExist
}

// isFileOf reports whether the file at path is the one p was saved for,
// with its identity and size.
func isFileOf(path string, p position) (fileIdentity, int64, bool) {
	file, fi, err := openRegular(path)
	if err != nil {
		return fileIdentity{}, 0, false
	}
	defer file.Close()
	id, size := identityOf(fi), fi.Size()
	if _, err := p.resumeAt(file, id, size); err != nil {
		return fileIdentity{}, 0, false
	}
	return id, size, true
}

// drainRotated starts reading r from its saved offset to its end under its
// drain key; the poll goes on with it as with any file that left the glob.
// A file with nothing after the offset is forgotten at once.
func (f *File) drainRotated(r *rotatedFile) {
	if r.size <= r.pos.Offset {
		level.Debug(f.logger).Log("msg", "file rotated while stopped was read to its end", "path", r.path)
		f.stale[r.key] = true
		return
	}
	file, _, err := openRegular(r.path)
	if err != nil {
		level.Warn(f.logger).Log("msg", "cannot read the rest of a file rotated while stopped", "path", r.path, "err", err)
		return
	}
	fl := &follower{path: r.path, key: drainKey(r.was, r.id.ino), file: file, grew: f.opts.Clock.Now()}
	fl.id, fl.size, err = statIdentity(file)
	if err == nil && fl.id != r.id {
		err = errors.New("replaced since it was found")
	}
	if err == nil {
		fl.fpLen = fingerprintLen(fl.size)
		fl.fp, err = fingerprint(file, fl.fpLen)
	}
	if err != nil {
		file.Close()
		level.Warn(f.logger).Log("msg", "cannot read the rest of a file rotated while stopped", "path", r.path, "err", err)
		return
	}
	fl.offset, fl.lineStart = r.pos.Offset, r.pos.Offset
	fl.draining = true
	level.Info(f.logger).Log("msg", "reading the rest of a file rotated while stopped", "path", r.path, "was", r.was,
		"offset", fl.offset, "size", fl.size)
	f.m.rotations.Inc()
	f.sink.Offer(Batch{Cursor: fl.cursor()}) // saved under its drain key before its old key is dropped
	fl.offered = fl.lineStart
	if r.key != fl.key {
		f.stale[r.key] = true
	}
	f.followers = append(f.followers, fl)
	f.byID[fl.id] = fl
}

// forgetGone deletes the cursors of names that were followed, are no
// longer and no longer exist, so that a glob over dated names does not
// leave one cursor per file behind. A name taken by another file keeps its
// key: that file's cursor replaces the old one.
func (f *File) forgetGone() {
	for key, path := range f.orphans {
		if f.keyInUse(key) {
			delete(f.orphans, key)
			continue
		}
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			f.sink.Offer(Batch{Cursor: &Cursor{Key: key}})
			delete(f.orphans, key)
		}
	}
}

func (f *File) keyInUse(key string) bool {
	for _, fl := range f.followers {
		if fl.key == key {
			return true
		}
	}
	return false
}

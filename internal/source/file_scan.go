package source

// Listing the glob. filepath.Glob ignores I/O errors: a directory it
// cannot read (EMFILE when descriptors run out, EACCES, EIO) looks like a
// directory without files, so every followed file seemed to have left the
// glob, was drained and had its position deleted, and was read again from
// the start at the next poll that could list it. glob lists directories
// itself, with filepath.Glob's semantics, and returns such errors; a poll
// that gets one changes nothing (File.poll).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/go-kit/log/level"
)

// Reasons a path that matches the glob is not followed, the `reason` label
// of timpush_exporter_file_ignored_total.
const (
	IgnoredDirectory       = "directory"
	IgnoredFIFO            = "fifo"             // a named pipe: opening one would block
	IgnoredOther           = "other"            // a socket or a device
	IgnoredDanglingSymlink = "dangling_symlink" // a symlink to nothing
	IgnoredSymlinkLoop     = "symlink_loop"
)

var fileIgnoredReasons = []string{IgnoredDirectory, IgnoredFIFO, IgnoredOther, IgnoredDanglingSymlink, IgnoredSymlinkLoop}

// globPaths returns the paths matching pattern in lexical order, as
// filepath.Glob does, or the first error listing a directory other than
// its not existing (or not being a directory).
func (f *File) globPaths(pattern string) ([]string, error) {
	if !hasMeta(pattern) {
		if _, err := os.Lstat(pattern); err != nil {
			if isGone(err) {
				return nil, nil
			}
			return nil, err
		}
		return []string{pattern}, nil
	}
	dir, file := filepath.Split(pattern)
	dir = cleanGlobPath(dir)
	dirs := []string{dir}
	if hasMeta(dir) {
		var err error
		if dirs, err = f.globPaths(dir); err != nil {
			return nil, err
		}
	}
	var paths []string
	for _, d := range dirs {
		entries, err := f.readDir(d)
		if err != nil {
			if isGone(err) {
				continue
			}
			return nil, fmt.Errorf("listing %s: %w", d, err)
		}
		for _, e := range entries { // sorted by name
			if ok, _ := filepath.Match(file, e.Name()); ok { // NewFile checked the pattern
				paths = append(paths, filepath.Join(d, e.Name()))
			}
		}
	}
	return paths, nil
}

// isGone reports an error that means there is nothing to list: the path
// does not exist, or a part of it is not a directory.
func isGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// hasMeta and cleanGlobPath are filepath's.
func hasMeta(path string) bool {
	magic := `*?[`
	if runtime.GOOS != "windows" {
		magic = `*?[\`
	}
	return strings.ContainsAny(path, magic)
}

func cleanGlobPath(path string) string {
	switch path {
	case "":
		return "."
	case string(filepath.Separator):
		return path
	default:
		return path[:len(path)-1]
	}
}

// scan lists the regular files matching the glob, by identity; two paths
// of one file (hard links, symlinks) are followed once, under the first
// name. unknown holds the paths that could not be examined (a stat error
// other than their being gone): whatever is followed there is left as it
// is. err is set when the glob could not be listed.
func (f *File) scan() (matches map[fileIdentity]match, unknown map[string]bool, err error) {
	paths, err := f.globPaths(f.glob)
	if err != nil {
		return nil, nil, err
	}
	matches = make(map[fileIdentity]match, len(paths))
	unknown = make(map[string]bool)
	present := make(map[string]bool, len(paths))
	for _, p := range paths {
		present[p] = true
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.Mode().IsRegular():
			delete(f.ignored, p)
			id := identityOf(fi)
			if _, dup := matches[id]; !dup {
				matches[id] = match{path: p, id: id, size: fi.Size()}
			}
		case err == nil:
			f.ignore(p, ignoredKind(fi.Mode()))
		case errors.Is(err, syscall.ELOOP):
			f.ignore(p, IgnoredSymlinkLoop)
		case isGone(err):
			if lfi, lerr := os.Lstat(p); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 {
				f.ignore(p, IgnoredDanglingSymlink)
			} // else removed since the listing
		default:
			unknown[p] = true
			f.logOpenError(p, err)
		}
	}
	for p := range f.ignored {
		if !present[p] {
			delete(f.ignored, p) // said again if it comes back
		}
	}
	return matches, unknown, nil
}

func ignoredKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return IgnoredDirectory
	case m&fs.ModeNamedPipe != 0:
		return IgnoredFIFO
	default:
		return IgnoredOther
	}
}

// ignore logs and counts a path that matches the glob but is not a file
// to follow, once for as long as it stays so.
func (f *File) ignore(path, reason string) {
	if f.ignored[path] == reason {
		return
	}
	f.ignored[path] = reason
	f.m.ignored[reason].Inc()
	level.Warn(f.logger).Log("msg", "path matches the glob but is not a regular file, ignoring it", "path", path, "reason", reason)
}

// listFailed logs the first failed listing of a streak; every one is
// counted.
func (f *File) listFailed(err error) {
	f.m.pollErrors.Inc()
	if f.listErr == "" {
		level.Error(f.logger).Log("msg", "cannot list the files of the glob; changing nothing until it can", "err", err)
	}
	f.listErr = err.Error()
}

func (f *File) listWorks() {
	if f.listErr != "" {
		level.Info(f.logger).Log("msg", "the glob can be listed again", "last_err", f.listErr)
		f.listErr = ""
	}
}

// readOpen reads the open files through their descriptors, for a poll
// that cannot list the glob: what is appended to them is not held up.
func (f *File) readOpen() (behind bool) {
	for _, fl := range f.followers {
		if fl.file == nil {
			continue
		}
		if _, size, err := statIdentity(fl.file); err == nil && !fl.draining {
			f.checkTruncated(fl, size)
		}
		f.read(fl)
		behind = behind || fl.behind
	}
	f.updateGauges()
	return behind
}

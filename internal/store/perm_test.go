package store

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// requireLeftAlone checks that Open failed with an error naming the file
// and the cause, and that dir holds exactly the files it held before.
func requireLeftAlone(t *testing.T, dir string, err error, cause error, before []byte) {
	t.Helper()
	path := filepath.Join(dir, FileName)
	if err == nil {
		t.Fatal("Open succeeded, want an error")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), path) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %q: want it to name %s and wrap %v, not ErrCorrupt", err, path, cause)
	}
	if strings.Count(err.Error(), path) != 1 {
		t.Errorf("error %q names the file more than once", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != FileName {
			t.Errorf("Open left %s behind: an I/O error must not move the file aside", e.Name())
		}
	}
	if before == nil {
		return
	}
	if got, rerr := os.ReadFile(path); rerr != nil || !bytes.Equal(got, before) {
		t.Fatalf("the state file changed or vanished (%v)", rerr)
	}
}

// failOpen makes every open of the state file fail with errno, as a file
// the process may not read, a read-only mount or a failing disk do. It
// works as root too, where chmod does not bite.
func failOpen(errno syscall.Errno, onlyCreate bool) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, perm os.FileMode) (*os.File, error) {
		if onlyCreate && flag&os.O_CREATE == 0 {
			return os.OpenFile(name, flag, perm)
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: errno}
	}
}

// TestIOErrorsLeaveTheFileAlone: a permission or I/O error used to be taken
// for corruption, and a valid state file was renamed aside: counters
// restarted from zero and every log was read again (issue 13.2).
func TestIOErrorsLeaveTheFileAlone(t *testing.T) {
	for _, tt := range []struct {
		name  string
		errno syscall.Errno
		cause error
	}{
		{"permission denied", syscall.EACCES, fs.ErrPermission},
		{"read-only file system", syscall.EROFS, syscall.EROFS},
		{"I/O error", syscall.EIO, syscall.EIO},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := buildStateFile(t, dir)
			_, _, err := Open(dir, Options{OpenFile: failOpen(tt.errno, false)})
			requireLeftAlone(t, dir, err, tt.cause, data)
		})
	}
}

// TestReadOnlyDirectory: with no state file yet, a directory that cannot
// be written to is an error naming the file, not "unreadable, moved aside".
func TestReadOnlyDirectory(t *testing.T) {
	t.Run("injected", func(t *testing.T) {
		dir := t.TempDir()
		_, _, err := Open(dir, Options{OpenFile: failOpen(syscall.EROFS, true)})
		requireLeftAlone(t, dir, err, syscall.EROFS, nil)
	})
	t.Run("mode 0500", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores directory permissions")
		}
		dir := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		_, _, err := Open(dir, Options{})
		requireLeftAlone(t, dir, err, fs.ErrPermission, nil)
	})
}

func TestUnreadableFileMode000(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions; TestIOErrorsLeaveTheFileAlone injects the error instead")
	}
	dir := t.TempDir()
	data := buildStateFile(t, dir)
	path := filepath.Join(dir, FileName)
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	_, _, err := Open(dir, Options{})
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	requireLeftAlone(t, dir, err, fs.ErrPermission, data)
}

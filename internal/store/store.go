// Package store keeps the exporter's state in one bbolt file: a small
// transactional key/value layer with named buckets. It hides how the file is
// opened (lock timeout; a corrupt file is moved aside, a file that cannot be
// read is left alone) and how a batch of writes becomes one fsync'd
// transaction. What the keys and values mean is the caller's business.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the state file's name inside the storage directory.
const FileName = "state.db"

// ErrLocked means another running process holds the state file.
var ErrLocked = errors.New("state file is locked by another running timpush_exporter (or a stale process); only one instance may use a --storage.path")

// Store is an open state file.
type Store struct {
	db   *bolt.DB
	path string
}

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for another process's lock. Default 3s.
	LockTimeout time.Duration
	// Now names moved-aside corrupt files; default time.Now.
	Now func() time.Time
	// OpenFile opens the state file, for the check and for bbolt; default
	// os.OpenFile. Tests inject permission and I/O errors through it.
	OpenFile func(name string, flag int, perm os.FileMode) (*os.File, error)
}

// Opened reports what Open had to do.
type Opened struct {
	// MovedAside is the new name of a corrupt state file that was renamed
	// so that the exporter could start fresh; empty when nothing was moved.
	MovedAside string
	// Cause is why the file was judged corrupt; it wraps ErrCorrupt.
	Cause error
}

// Open opens (creating if needed) the state file in dir.
//
// A file whose bytes are not a usable bbolt database (ErrCorrupt: bad meta
// pages, truncated, empty, failing bbolt's page check) is renamed to
// state.db.corrupt-<timestamp> and a fresh one is created; the caller logs
// that loudly. Any other error (permission denied, read-only file system,
// an I/O error, the lock held by another process) is returned and the file
// is left as it is: it may well hold good state.
func Open(dir string, o Options) (*Store, Opened, error) {
	if o.LockTimeout <= 0 {
		o.LockTimeout = 3 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OpenFile == nil {
		o.OpenFile = os.OpenFile
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, Opened{}, fmt.Errorf("create storage directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	opened, err := moveAsideIfCorrupt(path, o)
	if err != nil {
		return nil, Opened{}, err
	}
	s, err := open(path, o)
	if errors.Is(err, ErrCorrupt) && opened.MovedAside == "" {
		// bbolt found what the check before mapping cannot see (a damaged
		// page inside the file). Its lock is released by now; another
		// exporter starting in this very instant is not guarded against.
		if opened, err = moveAside(path, err, o.Now); err != nil {
			return nil, Opened{}, err
		}
		s, err = open(path, o)
	}
	if err != nil {
		return nil, Opened{}, err
	}
	return s, opened, nil
}

// moveAsideIfCorrupt checks an existing state file, under bbolt's lock,
// before bbolt maps it (see checkFile), and renames it if it is corrupt.
func moveAsideIfCorrupt(path string, o Options) (Opened, error) {
	f, err := o.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return Opened{}, nil // bbolt creates it
	}
	if err != nil {
		return Opened{}, untouched(path, err)
	}
	defer f.Close() // releases the lock
	if err := lockFile(f, o.LockTimeout); err != nil {
		if errors.Is(err, ErrLocked) {
			return Opened{}, err
		}
		return Opened{}, untouched(path, err)
	}
	cause := checkFile(f)
	if cause == nil {
		return Opened{}, nil
	}
	if !errors.Is(cause, ErrCorrupt) {
		return Opened{}, untouched(path, cause)
	}
	return moveAside(path, cause, o.Now)
}

func moveAside(path string, cause error, now func() time.Time) (Opened, error) {
	moved := fmt.Sprintf("%s.corrupt-%s", path, now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, moved); err != nil {
		return Opened{}, fmt.Errorf("state file %s is corrupt (%v) and could not be moved aside: %w", path, cause, err)
	}
	return Opened{MovedAside: moved, Cause: cause}, nil
}

// untouched names the file and the cause of an error that is not the
// file's content, and says that the file was kept.
func untouched(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		err = fmt.Errorf("%s: %w", pe.Op, pe.Err) // the path is said once
	}
	return fmt.Errorf("cannot use state file %s (left as it is): %w", path, err)
}

// open opens the file with bbolt and walks its pages once. Format errors
// wrap ErrCorrupt; everything else is returned through untouched.
func open(path string, o Options) (s *Store, err error) {
	// bbolt panics on some kinds of corruption instead of returning an error.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%w: open: %v", ErrCorrupt, r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.LockTimeout, OpenFile: o.OpenFile})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, ErrLocked
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("%w: open: %w", ErrCorrupt, err)
	case err != nil:
		return nil, untouched(path, err)
	}
	s = &Store{db: db, path: path}
	if err := s.verify(); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return s, nil
}

// verify walks the page tree once. It is linear in the file size, which
// for the bounded state this exporter keeps is a few tens of milliseconds.
func (s *Store) verify() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("check state file: %v", r)
		}
	}()
	return s.db.View(func(tx *bolt.Tx) error {
		defer releaseRead(s.db, tx) // the check reads every page
		for cerr := range tx.Check() {
			return fmt.Errorf("check state file: %w", cerr)
		}
		return nil
	})
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Batch collects writes applied together by Commit.
type Batch struct {
	ops []op
}

type op struct {
	bucket     string
	key, value []byte // value nil: delete
	limit      []byte // non-nil: delete keys with prefix key whose rest sorts below limit
}

// Put sets key to value in bucket. The slices must not change afterwards.
func (b *Batch) Put(bucket string, key, value []byte) {
	if value == nil {
		value = []byte{}
	}
	b.ops = append(b.ops, op{bucket: bucket, key: key, value: value})
}

// Delete removes key from bucket.
func (b *Batch) Delete(bucket string, key []byte) {
	b.ops = append(b.ops, op{bucket: bucket, key: key})
}

// DeletePrefixBelow deletes the keys of bucket that start with prefix and
// whose remainder sorts below limit: time-ordered entries older than a cut-off.
func (b *Batch) DeletePrefixBelow(bucket string, prefix, limit []byte) {
	b.ops = append(b.ops, op{bucket: bucket, key: prefix, limit: limit})
}

// Len is the number of writes.
func (b *Batch) Len() int { return len(b.ops) }

// Append adds other's writes after b's, keeping their order.
func (b *Batch) Append(other *Batch) { b.ops = append(b.ops, other.ops...) }

// Commit applies the batch in one fsync'd transaction: all of it or none.
func (s *Store) Commit(b *Batch) error {
	if b.Len() == 0 {
		return nil
	}
	ops := sortedOps(b.ops)
	defer s.releaseCommitted()
	return s.db.Update(func(tx *bolt.Tx) error {
		var cur *bolt.Bucket
		curName := ""
		for _, o := range ops {
			if cur == nil || o.bucket != curName {
				bk, err := tx.CreateBucketIfNotExists([]byte(o.bucket))
				if err != nil {
					return fmt.Errorf("bucket %s: %w", o.bucket, err)
				}
				cur, curName = bk, o.bucket
			}
			var err error
			if o.limit != nil {
				_, err = deletePrefixBelow(cur, o.key, o.limit)
			} else if o.value == nil {
				err = cur.Delete(o.key)
			} else {
				err = cur.Put(o.key, o.value)
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", o.bucket, err)
			}
		}
		return nil
	})
}

// releaseCommitted hands back the mapped pages a commit read to find where
// its keys go (releaseRead). Random keys, such as new PushIDs, each land on
// a page of their own: five checkpoints of 1,000 new PushIDs into a
// million pending left 106 MB of the file in the RSS, and it only grows
// until every page has been read once.
func (s *Store) releaseCommitted() {
	_ = s.db.View(func(tx *bolt.Tx) error {
		releaseRead(s.db, tx)
		return nil
	})
}

// ForEach calls fn for every key in bucket, in key order. The slices are
// only valid during the call. A missing bucket has no keys. Every
// releaseEvery bytes read, and at the end, the mapped pages read so far are
// handed back (releaseRead), so that reading the whole file at start does
// not keep it all in the RSS.
func (s *Store) ForEach(bucket string, fn func(k, v []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		read := 0
		err := b.ForEach(func(k, v []byte) error {
			if read += len(k) + len(v); read >= releaseEvery {
				releaseRead(s.db, tx)
				read = 0
			}
			return fn(k, v)
		})
		releaseRead(s.db, tx)
		return err
	})
}

// releaseEvery is how many bytes of keys and values ForEach reads between
// releases: the pages read meanwhile (about twice as many bytes, bbolt's
// pages being half full or more) are what it adds to the RSS at most.
const releaseEvery = 4 << 20

// sortedOps orders the writes by bucket and key. bbolt inserts into a
// sorted page in memory, so keys in random order cost a copy each: a
// checkpoint of 100,000 new PushIDs took 22 s unsorted and 0.12 s sorted.
// The sort is stable (writes to one key keep their order), and range
// deletes stay where they are, as barriers between sorted runs.
func sortedOps(ops []op) []op {
	out := slices.Clone(ops)
	start := 0
	for i := 0; i <= len(out); i++ {
		if i < len(out) && out[i].limit == nil {
			continue
		}
		slices.SortStableFunc(out[start:i], func(a, b op) int {
			if c := strings.Compare(a.bucket, b.bucket); c != 0 {
				return c
			}
			return bytes.Compare(a.key, b.key)
		})
		start = i + 1
	}
	return out
}

func deletePrefixBelow(b *bolt.Bucket, prefix, limit []byte) (int, error) {
	// Collect first: deleting under a bbolt cursor can skip the next key.
	var doomed [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
		if string(k[len(prefix):]) >= string(limit) {
			break
		}
		doomed = append(doomed, append([]byte(nil), k...))
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(doomed), nil
}

func hasPrefix(k, p []byte) bool {
	return len(k) >= len(p) && string(k[:len(p)]) == string(p)
}

package store

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// releaseRead hands back the pages of the state file that tx has read.
// bbolt maps the whole file and reads through the mapping, so every page
// a full read touched (the restore at start reads all of it) stays in the
// process's RSS for as long as the file is open: 280 MB with a million
// pending PushIDs. bbolt writes with pwrite, never through the mapping,
// so the mapped pages are always clean: MADV_DONTNEED only unmaps them,
// and a later read faults them in again from the page cache or the disk.
// It is advice: an error changes nothing but the RSS, so it is ignored.
// Call it with tx open, which keeps bbolt from remapping the file meanwhile.
func releaseRead(db *bolt.DB, tx *bolt.Tx) {
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, db.Info().Data, uintptr(tx.Size()), syscall.MADV_DONTNEED)
}

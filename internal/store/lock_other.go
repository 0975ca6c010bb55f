//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import (
	"os"
	"time"
)

// lockFile does nothing where flock(2) is missing: the check then runs
// unlocked, and bbolt still takes its own lock before using the file.
func lockFile(*os.File, time.Duration) error { return nil }

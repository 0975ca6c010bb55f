//go:build unix

package listen

import "syscall"

// openFilesLimit is the process's soft limit on open descriptors (Go raises
// it to the hard limit at start-up), 0 if unknown.
func openFilesLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return uint64(rl.Cur) //nolint:unconvert // int64 on some platforms
}

//go:build unix

package source

import "syscall"

// processCPU is the CPU time this process has used, user and system, in
// nanoseconds: unlike wall time, other processes on a busy machine do not
// inflate it.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

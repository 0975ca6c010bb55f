//go:build unix

package promeval

import (
	"syscall"
	"time"
)

// cpuTime is the user and system CPU time of the process so far. On a
// shared machine it is a steadier measure than wall time: other
// processes' load stretches the wall clock, not this.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

//go:build unix

package saga

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used: a
// throughput per CPU-second holds steadier than one per wall-second on a
// machine shared with other work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

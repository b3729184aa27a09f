//go:build unix

package swarm

import (
	"runtime"
	"syscall"
	"time"
)

// readUsage reads getrusage(RUSAGE_SELF). Every session runs in this
// process, so this is the whole swarm's CPU and memory.
func readUsage() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}
	}
	rss := ru.Maxrss
	if runtime.GOOS != "darwin" { // Linux and the BSDs report KiB, macOS bytes
		rss *= 1024
	}
	return usage{
		cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		maxRSS: rss,
	}
}

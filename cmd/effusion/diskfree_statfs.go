//go:build linux || darwin

package main

import (
	"os"
	"path/filepath"
	"syscall"
)

// freeSpace returns the bytes an unprivileged user may still write on the
// file system holding dir (or its nearest existing ancestor, named by at).
// ok is false when it cannot be read.
func freeSpace(dir string) (free uint64, at string, ok bool) {
	at, err := filepath.Abs(dir)
	if err != nil {
		return 0, dir, false
	}
	for {
		if _, err := os.Stat(at); err == nil {
			break
		}
		parent := filepath.Dir(at)
		if parent == at {
			return 0, dir, false
		}
		at = parent
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(at, &st); err != nil {
		return 0, at, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), at, true
}

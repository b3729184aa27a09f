//go:build linux

package storage

import (
	"errors"
	"syscall"
	"unsafe"
)

// directAlign is the alignment O_DIRECT asks of offsets, lengths and
// buffer addresses: 4096 covers every logical block size in use.
const directAlign = 4096

// directFlag opens a file for writes that bypass the page cache.
const directFlag = syscall.O_DIRECT

// alignedForDirect reports whether a write of iovs at off meets O_DIRECT's
// alignment: the offset, each buffer's address and each length a multiple
// of directAlign.
func alignedForDirect(iovs [][]byte, off int64) bool {
	if off%directAlign != 0 || len(iovs) == 0 {
		return false
	}
	for _, b := range iovs {
		if len(b) == 0 || len(b)%directAlign != 0 || uintptr(unsafe.Pointer(&b[0]))%directAlign != 0 {
			return false
		}
	}
	return true
}

// isDirectRefused reports whether err says the file system does not take
// O_DIRECT (or this write): the caller falls back to the page cache.
func isDirectRefused(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP)
}

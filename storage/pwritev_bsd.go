//go:build darwin || openbsd

package storage

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxIovecs stays within IOV_MAX (1024 on Linux and the BSDs).
const maxIovecs = 1024

// pwritev writes iovs at off with as few pwritev calls as the kernel
// allows, resuming after short writes.
func pwritev(f *os.File, iovs [][]byte, off int64) error {
	fd := int(f.Fd()) // regular files are never in the poller: Fd is safe here
	for len(iovs) > 0 {
		batch := iovs[:min(len(iovs), maxIovecs)]
		n, err := unix.Pwritev(fd, batch, off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ENOSYS) {
			return writeEach(f, iovs, off)
		}
		if err != nil {
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: err}
		}
		if n == 0 {
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: io.ErrShortWrite}
		}
		off += int64(n)
		iovs = advance(iovs, n)
	}
	return nil
}

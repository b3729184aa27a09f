//go:build darwin || linux || openbsd

package ceiling

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// writeBlocks writes blocks back to back at off with pwritev, resuming
// after short writes.
func writeBlocks(f *os.File, blocks [][]byte, off int64) error {
	for len(blocks) > 0 {
		n, err := unix.Pwritev(int(f.Fd()), blocks[:min(len(blocks), 1024)], off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: err}
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		off += int64(n)
		for n > 0 {
			if n >= len(blocks[0]) {
				n -= len(blocks[0])
				blocks = blocks[1:]
			} else {
				blocks[0] = blocks[0][n:]
				n = 0
			}
		}
	}
	return nil
}

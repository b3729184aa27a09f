//go:build !(darwin || linux || openbsd)

package storage

import "os"

func pwritev(f *os.File, iovs [][]byte, off int64) error { return writeEach(f, iovs, off) }

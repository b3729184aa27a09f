package storage

import (
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxIovecs stays within IOV_MAX (1024 on Linux).
const maxIovecs = 1024

// iovecPool holds the iovec arrays of pwritev: golang.org/x/sys/unix's
// Pwritev allocates one per call, and a piece is written per call.
var iovecPool = sync.Pool{New: func() any { return new([maxIovecs]unix.Iovec) }}

// pwritev writes iovs at off with as few pwritev calls as the kernel
// allows, resuming after short writes. It does not allocate.
func pwritev(f *os.File, iovs [][]byte, off int64) error {
	fd := f.Fd() // regular files are never in the poller: Fd is safe here
	arr := iovecPool.Get().(*[maxIovecs]unix.Iovec)
	defer iovecPool.Put(arr)
	for len(iovs) > 0 {
		batch := iovs[:min(len(iovs), maxIovecs)]
		cnt := 0
		for _, b := range batch {
			if len(b) == 0 {
				continue
			}
			arr[cnt].Base = &b[0]
			arr[cnt].SetLen(len(b))
			cnt++
		}
		if cnt == 0 {
			iovs = iovs[len(batch):]
			continue
		}
		// On 64-bit Linux the offset goes whole in pos_l; pos_h is its
		// upper half on 32-bit (the shift in two steps is 0 on 64-bit).
		r, _, e := syscall.Syscall6(unix.SYS_PWRITEV, fd, uintptr(unsafe.Pointer(&arr[0])), uintptr(cnt),
			uintptr(off), uintptr(uint64(off)>>(unsafe.Sizeof(uintptr(0))*4)>>(unsafe.Sizeof(uintptr(0))*4)), 0)
		clear(arr[:cnt]) // drop the references for the pool
		if e == syscall.EINTR {
			continue
		}
		if e == syscall.ENOSYS {
			return writeEach(f, iovs, off)
		}
		if e != 0 {
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: e}
		}
		n := int(r)
		if n == 0 {
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: io.ErrShortWrite}
		}
		off += int64(n)
		iovs = advance(iovs, n)
	}
	return nil
}

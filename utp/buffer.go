package utp

import "sync"

// Packet payloads live in pooled buffers of a few size classes so that the
// data path does not allocate: a buffer is taken when data is packetized
// (or an out-of-order packet is stored) and returned when it is acked (or
// delivered).
var bufClasses = [...]int{2048, 16384, maxDatagram}

var bufPools [len(bufClasses)]sync.Pool

func init() {
	for i, size := range bufClasses {
		bufPools[i].New = func() any { b := make([]byte, size); return &b }
	}
}

// getBuf returns a buffer of at least n bytes (n <= maxDatagram).
func getBuf(n int) *[]byte {
	for i, size := range bufClasses {
		if n <= size {
			return bufPools[i].Get().(*[]byte)
		}
	}
	panic("utp: buffer larger than a datagram")
}

func putBuf(b *[]byte) {
	for i, size := range bufClasses {
		if cap(*b) == size {
			*b = (*b)[:size]
			bufPools[i].Put(b)
			return
		}
	}
}

// ring is a byte FIFO that grows (doubling, up to max) as data arrives
// faster than it is read, so an idle connection holds little memory.
type ring struct {
	buf  []byte
	r, n int
}

const ringInitial = 64 << 10

func (q *ring) len() int { return q.n }

// write appends p; the caller has checked that it fits in limit.
func (q *ring) write(p []byte, limit int) {
	if need := q.n + len(p); need > len(q.buf) {
		size := max(len(q.buf), ringInitial)
		for size < need {
			size *= 2
		}
		size = min(size, limit)
		nb := make([]byte, size)
		q.read(nb[:q.n], true)
		q.buf, q.r = nb, 0
	}
	w := (q.r + q.n) % len(q.buf)
	c := copy(q.buf[w:], p)
	copy(q.buf, p[c:])
	q.n += len(p)
}

// read copies up to len(p) bytes out (peek only when keep) and returns the count.
func (q *ring) read(p []byte, keep bool) int {
	k := min(len(p), q.n)
	if k == 0 {
		return 0
	}
	c := copy(p[:k], q.buf[q.r:])
	copy(p[c:k], q.buf)
	if !keep {
		q.r = (q.r + k) % len(q.buf)
		q.n -= k
		if q.n == 0 {
			q.r = 0
		}
	}
	return k
}

// Package sha1x hashes several messages of equal length with SHA-1 at
// once. On amd64 with AVX2 eight messages go through the 80 rounds
// together, one per 32-bit lane of the vector registers, which is several
// times the throughput per core of hashing them one after the other: the
// rounds of one message are a dependency chain that leaves most of the
// core idle. With AVX-512VL the same 8 lanes take fewer instructions
// (one-instruction rotates and logic functions). Where the CPU has the SHA
// extensions, crypto/sha1 uses them, and which is faster depends on the
// CPU: on a Xeon with both, 8 lanes of AVX-512VL hash 4.5 GB/s where
// crypto/sha1 hashes 1.55 GB/s, so the package times both once, at first
// use, and takes the vector path only for as many messages as make it the
// faster (MinLanes). Everywhere else, and for a single message, it is
// crypto/sha1.
//
// BitTorrent pieces are such messages: independent, all of the same
// length but the last.
package sha1x

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"hash"
	"math"
	"sync"
	"time"
)

// Lanes is how many messages one Multi or Sum8 call hashes at most.
const Lanes = 8

// Size is the length of a SHA-1 digest.
const Size = sha1.Size

// defaultMinLanes is the fewest messages for which the vector path is
// used without the SHA extensions: with two, it already beats crypto/sha1
// hashing them one after the other.
const defaultMinLanes = 2

// MinLanes returns the fewest messages for which the multi-buffer path is
// used (below it, crypto/sha1 one message after the other is as fast), or
// Lanes+1 where it is never used. Without the SHA extensions it is 2; with
// them it is what the timing at first use found (3 on a Xeon with
// AVX-512VL and SHA-NI).
func MinLanes() int {
	if !useAsm() {
		return Lanes + 1
	}
	return minLanes
}

// forceFallback makes every call take the crypto/sha1 path; tests set it.
var forceFallback bool

var (
	selfTestOnce sync.Once
	asmOK        bool
	minLanes     = defaultMinLanes
)

// useAsm reports whether the vector path is available, running the
// self-test on first use: an implementation that disagrees with
// crypto/sha1 on known inputs is never used.
func useAsm() bool {
	if forceFallback || !hasAsm {
		return false
	}
	selfTestOnce.Do(func() {
		if useAVX512 && selfTest() != nil {
			useAVX512 = false // try the AVX2 flavour
		}
		asmOK = selfTest() == nil
		if asmOK && hasSHA {
			minLanes = calibrate()
		}
	})
	return asmOK
}

// calibrate times the vector path on Lanes messages against crypto/sha1
// on one message of the same length (the best of five tries of each,
// interleaved, about a millisecond in all) and returns the fewest messages
// for which the vector path is faster: the vector path costs the same for
// any number of lanes, crypto/sha1 costs per message. Lanes+1 means never.
func calibrate() int {
	const l = 64 << 10
	var msgs [Lanes][]byte
	buf := make([]byte, Lanes*l)
	for i := range buf {
		buf[i] = byte(i * 13)
	}
	for i := range msgs {
		msgs[i] = buf[i*l : (i+1)*l]
	}
	var dst [Lanes][Size]byte
	tv, ts := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range 5 {
		t0 := time.Now()
		var v vec
		v.reset(Lanes)
		v.write(&msgs)
		v.sum(&dst)
		t1 := time.Now()
		dst[1] = sha1.Sum(msgs[0])
		t2 := time.Now()
		tv, ts = min(tv, t1.Sub(t0)), min(ts, t2.Sub(t1))
	}
	return lanesFor(tv, ts)
}

// lanesFor is the fewest messages n for which one vector call (tv) beats n
// calls of crypto/sha1 (ts each), at least defaultMinLanes; Lanes+1 if
// none up to Lanes does.
func lanesFor(tv, ts time.Duration) int {
	for n := defaultMinLanes; n <= Lanes; n++ {
		if tv < time.Duration(n)*ts {
			return n
		}
	}
	return Lanes + 1
}

// Accelerated reports whether the multi-buffer path is in use on this
// machine, for MinLanes messages or more (false means every hash is
// computed by crypto/sha1).
func Accelerated() bool { return useAsm() && minLanes <= Lanes }

// selfTest hashes messages of lengths that exercise every padding case
// through the vector path and compares with crypto/sha1.
func selfTest() error {
	var msgs [Lanes][]byte
	var backing [Lanes][200]byte
	for i := range backing {
		for j := range backing[i] {
			backing[i][j] = byte(i*31 + j*7 + j>>3)
		}
	}
	for _, l := range []int{0, 3, 55, 56, 63, 64, 65, 119, 120, 128, 200} {
		for i := range msgs {
			msgs[i] = backing[i][:l]
		}
		var m Multi
		m.reset(Lanes, true)
		m.Write(&msgs)
		var got [Lanes][Size]byte
		m.Sum(&got)
		for i := range msgs {
			if want := sha1.Sum(msgs[i]); got[i] != want {
				return fmt.Errorf("sha1x: self-test: lane %d length %d: got %x, want %x", i, l, got[i], want)
			}
		}
	}
	return nil
}

// Multi hashes up to Lanes messages of equal length in lockstep, fed in
// chunks: every Write gives each message its next chunk, all chunks of the
// same length. The zero value is not ready: call Reset first. A Multi is
// not safe for concurrent use; reusing one (Reset) does not allocate.
type Multi struct {
	v   vec
	n   int // lanes in use
	asm bool
	fb  [Lanes]hash.Hash // crypto/sha1 states, when not asm
}

// vec is the state of the vector path; it holds no interface, so that a
// vec on the stack stays there.
type vec struct {
	state [5][Lanes]uint32 // word-major: state[j][lane]
	buf   [Lanes][64]byte  // each lane's partial block
	nbuf  int              // bytes in every lane's partial block
	len   uint64           // bytes written per lane
	n     int              // lanes in use
}

var initState = [5]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0}

// Reset starts n new messages, 1 <= n <= Lanes; it panics outside that
// range.
func (m *Multi) Reset(n int) {
	m.reset(n, useAsm() && n >= minLanes)
}

func (m *Multi) reset(n int, asm bool) {
	if n < 1 || n > Lanes {
		panic(fmt.Sprintf("sha1x: Reset(%d): want 1..%d messages", n, Lanes))
	}
	m.n, m.asm = n, asm
	if asm {
		m.v.reset(n)
		return
	}
	for i := range n {
		if m.fb[i] == nil {
			m.fb[i] = sha1.New()
		}
		m.fb[i].Reset()
	}
}

// Write appends chunks[i] to message i, for i below the n given to Reset.
// The chunks must all have the same length (Write panics otherwise);
// entries from n on are ignored. Write only reads the chunks.
func (m *Multi) Write(chunks *[Lanes][]byte) {
	l := len(chunks[0])
	for i := 1; i < m.n; i++ {
		if len(chunks[i]) != l {
			panic(fmt.Sprintf("sha1x: Write: chunk %d has length %d, chunk 0 has %d", i, len(chunks[i]), l))
		}
	}
	if !m.asm {
		for i := range m.n {
			m.fb[i].Write(chunks[i])
		}
		return
	}
	m.v.write(chunks)
}

func (m *vec) reset(n int) {
	m.n, m.nbuf, m.len = n, 0, 0
	for j, v := range initState {
		for i := range m.state[j] {
			m.state[j][i] = v
		}
	}
}

func (m *vec) write(chunks *[Lanes][]byte) {
	l := len(chunks[0])
	m.len += uint64(l)
	var ptrs [Lanes]*byte
	off := 0
	if m.nbuf > 0 {
		k := min(64-m.nbuf, l)
		for i := range m.n {
			copy(m.buf[i][m.nbuf:], chunks[i][:k])
		}
		m.nbuf += k
		off = k
		if m.nbuf < 64 {
			return
		}
		m.flushBuf()
	}
	if nb := (l - off) / 64; nb > 0 {
		for i := range ptrs {
			lane := i
			if lane >= m.n {
				lane = 0 // unused lanes hash a copy of lane 0, ignored
			}
			ptrs[i] = &chunks[lane][off]
		}
		blocks(&m.state, &ptrs, nb)
		off += nb * 64
	}
	if off < l {
		for i := range m.n {
			copy(m.buf[i][:], chunks[i][off:])
		}
		m.nbuf = l - off
	}
}

// flushBuf hashes every lane's (full) partial block.
func (m *vec) flushBuf() {
	// ptrs is local: storing &m.buf through a pointer parameter would
	// make every vec escape to the heap.
	var ptrs [Lanes]*byte
	for i := range ptrs {
		ptrs[i] = &m.buf[i][0]
	}
	blocks(&m.state, &ptrs, 1)
	m.nbuf = 0
}

// Sum writes the digest of message i to dst[i], for i below the n given to
// Reset; the other entries are left alone. It ends the messages: call Reset
// before writing again.
func (m *Multi) Sum(dst *[Lanes][Size]byte) {
	if !m.asm {
		for i := range m.n {
			m.fb[i].Sum(dst[i][:0])
		}
		return
	}
	m.v.sum(dst)
}

func (m *vec) sum(dst *[Lanes][Size]byte) {
	bits := m.len << 3
	for i := range Lanes {
		b := &m.buf[i]
		b[m.nbuf] = 0x80
		clear(b[m.nbuf+1:])
	}
	if m.nbuf >= 56 { // no room for the length: one more block
		m.flushBuf()
		for i := range Lanes {
			clear(m.buf[i][:56])
		}
	}
	for i := range Lanes {
		binary.BigEndian.PutUint64(m.buf[i][56:], bits)
	}
	m.flushBuf()
	for i := range m.n {
		for j := range 5 {
			binary.BigEndian.PutUint32(dst[i][4*j:], m.state[j][i])
		}
	}
}

// Sum8 writes the SHA-1 of msgs[i] to dst[i] for i < n (1 <= n <= Lanes).
// Messages of equal length are hashed together; otherwise each is hashed
// with crypto/sha1. It does not allocate and is safe for concurrent use.
func Sum8(dst *[Lanes][Size]byte, msgs *[Lanes][]byte, n int) {
	if n < 1 || n > Lanes {
		panic(fmt.Sprintf("sha1x: Sum8(%d): want 1..%d messages", n, Lanes))
	}
	equal := true
	for i := 1; i < n; i++ {
		equal = equal && len(msgs[i]) == len(msgs[0])
	}
	if !equal || !useAsm() || n < minLanes {
		for i := range n {
			dst[i] = sha1.Sum(msgs[i])
		}
		return
	}
	var v vec
	v.reset(n)
	v.write(msgs)
	v.sum(dst)
}

// SumMany writes the SHA-1 of msgs[i] to out[i]; out must be at least as
// long as msgs (SumMany panics otherwise). Runs of consecutive messages of
// equal length are hashed Lanes at a time, so pieces of a torrent (all
// equal but the last) get the full speed-up. Safe for concurrent use.
func SumMany(msgs [][]byte, out [][Size]byte) {
	if len(out) < len(msgs) {
		panic(fmt.Sprintf("sha1x: SumMany: %d messages, room for %d digests", len(msgs), len(out)))
	}
	var group [Lanes][]byte
	var sums [Lanes][Size]byte
	for start := 0; start < len(msgs); {
		n := 0
		for start+n < len(msgs) && n < Lanes && len(msgs[start+n]) == len(msgs[start]) {
			group[n] = msgs[start+n]
			n++
		}
		Sum8(&sums, &group, n)
		copy(out[start:start+n], sums[:n])
		start += n
	}
}

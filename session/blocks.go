package session

import (
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// block is one received block on its way from a peer's socket to a
// verified piece: the reader fills data, the core holds it in the piece's
// record until the piece is complete, the hasher hashes and writes it, then
// it goes back to the pool. Pooling keeps the receive path free of
// allocations.
type block struct {
	p     *Peer // sender (nil once the core has it)
	index uint32
	begin uint32
	n     uint32        // valid bytes in data
	slot  bool          // counted in the pool's budget...
	held  *atomic.Int64 // ...and in its session's holding
	data  *[peerwire.BlockSize]byte
}

// bytes returns the block's payload.
func (b *block) bytes() []byte { return b.data[:b.n] }

const (
	// defaultInflightBlocks caps received blocks not yet verified and
	// written (12 MiB): waiting for the session, held by the core in
	// partial pieces, or hashing and written. Those blocks are most of a
	// leecher's memory: at 500 MB/s with batches of 1 MiB pieces hashed
	// and written with O_DIRECT, 1,536 blocks (24 MiB) were used up to
	// 1,100-1,300, for a peak RSS of 33-40 MiB; 768 blocks hold it at 30
	// MiB, as fast within the runs' spread (bench.sh leech and pairs, 1
	// GiB, 8 interleaved rounds on a SHA-NI Xeon: medians 476 and 690 MB/s
	// against 485 and 712, CPU per GiB level). Earlier, 4,096 blocks (64
	// MiB) were no faster than 1,536 either.
	defaultInflightBlocks = 768
	// ceilingInflightBlocks is how far sessions with large pieces raise a
	// default budget (64 MiB): each wants room for piecesInFlight pieces,
	// so that 16 MiB pieces are still hashed two at a time while the
	// readers fill two more.
	ceilingInflightBlocks = 4096
	piecesInFlight        = 4
	// inflightWait is how long a reader waits for a block of the budget
	// before taking one outside it: partial pieces hold blocks while they
	// wait for blocks from the very readers that wait, so the cap must
	// bend rather than deadlock.
	inflightWait = 50 * time.Millisecond
)

// blockPool is the budget of received blocks of an environment and their
// free list in one: a buffered channel holds the free blocks of the budget
// (a sync.Pool would be emptied by every garbage collection, and at
// hundreds of MB/s the receive path would then allocate a block per
// block). A block is allocated on first use, so memory follows the load,
// up to the budget. Taking and returning a block is one channel operation
// each, with no lock shared across sessions besides the channel's own.
type blockPool struct {
	free chan *block  // free blocks of the budget; its capacity is the ceiling
	live atomic.Int64 // blocks of the budget allocated so far
	max  atomic.Int64 // the budget: at most cap(free)
}

// newBlockPool returns a pool with a budget of budget blocks that grow may
// raise up to ceiling.
func newBlockPool(budget, ceiling int) *blockPool {
	bp := &blockPool{free: make(chan *block, max(budget, ceiling))}
	bp.max.Store(int64(budget))
	return bp
}

// grow raises the budget to n blocks, at most the pool's ceiling; it never
// lowers it.
func (bp *blockPool) grow(n int64) {
	n = min(n, int64(cap(bp.free)))
	for {
		m := bp.max.Load()
		if n <= m || bp.max.CompareAndSwap(m, n) {
			return
		}
	}
}

// budget returns the number of blocks of the budget.
func (bp *blockPool) budget() int64 { return bp.max.Load() }

// get returns a block for a received payload: a free one of the budget, a
// new one while the budget is not all allocated, else the first one freed
// within inflightWait, else one outside the budget (the back-pressure that
// keeps a fast network from outrunning the hashers without bound). A block
// of the budget counts in held (its session's) until put.
func (bp *blockPool) get(held *atomic.Int64) *block {
	b := bp.take()
	if b.slot {
		b.held = held
		held.Add(1)
	}
	return b
}

func (bp *blockPool) take() *block {
	select {
	case b := <-bp.free:
		return b
	default:
	}
	if bp.live.Add(1) <= bp.max.Load() {
		return &block{data: new([peerwire.BlockSize]byte), slot: true}
	}
	bp.live.Add(-1)
	t := time.NewTimer(inflightWait)
	defer t.Stop()
	select {
	case b := <-bp.free:
		return b
	case <-t.C:
		return &block{data: new([peerwire.BlockSize]byte)}
	}
}

// put returns a block: one of the budget to the free list, any other to
// the garbage collector. It never blocks.
func (bp *blockPool) put(b *block) {
	b.p = nil
	if !b.slot {
		return
	}
	if b.held != nil {
		b.held.Add(-1)
		b.held = nil
	}
	select {
	case bp.free <- b:
	default: // the budget was handed out again after a forget: drop it
	}
}

// forget gives back the budget of blocks a stopped session still held:
// blocks in its mailbox when its machine ended, which nobody will put.
func (bp *blockPool) forget(held *atomic.Int64) {
	if n := held.Swap(0); n > 0 {
		bp.live.Add(-n)
	}
}

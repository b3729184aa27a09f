package session

import (
	"sync"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// block is one received block on its way from a peer's socket to a
// verified piece: the reader fills data, the session files it under its
// piece, the hasher hashes and writes it, then it goes back to the pool.
// Pooling keeps the receive path free of allocations.
type block struct {
	p     *Peer // sender (nil once filed)
	index uint32
	begin uint32
	n     uint32 // valid bytes in data
	slot  bool   // holds one of the in-flight slots
	data  *[peerwire.BlockSize]byte
}

// Memory bounds of received data, across every session of the process.
const (
	// maxInflightBlocks caps received blocks not yet verified and written
	// (64 MiB): queued for the session, in partial pieces, or hashing.
	maxInflightBlocks = 4096
	// inflightWait is how long a reader waits for a slot before taking a
	// block anyway: partial pieces hold slots while they wait for blocks
	// from the very readers that wait, so the cap must bend rather than
	// deadlock.
	inflightWait = 50 * time.Millisecond
	// maxFreeBlocks bounds the blocks kept for reuse. A sync.Pool would be
	// emptied by every garbage collection, and at hundreds of MB/s the
	// receive path would then allocate a block per block.
	maxFreeBlocks = maxInflightBlocks
)

// inflight is the semaphore of in-flight slots.
var inflight = make(chan struct{}, maxInflightBlocks)

// blockPool is a free list of blocks shared by every session.
var blockPool = struct {
	sync.Mutex
	free []*block
}{}

// getBlock returns a block for a received payload, waiting (briefly) for
// an in-flight slot: the back-pressure that keeps a fast network from
// outrunning the hashers without bound.
func getBlock() *block {
	slot := true
	select {
	case inflight <- struct{}{}:
	default:
		t := time.NewTimer(inflightWait)
		select {
		case inflight <- struct{}{}:
		case <-t.C:
			slot = false
		}
		t.Stop()
	}
	b := newBlock()
	b.slot = slot
	return b
}

// newBlock takes a block from the free list (or allocates one) without an
// in-flight slot: the upload path's buffers.
func newBlock() *block {
	blockPool.Lock()
	if n := len(blockPool.free); n > 0 {
		b := blockPool.free[n-1]
		blockPool.free[n-1] = nil
		blockPool.free = blockPool.free[:n-1]
		blockPool.Unlock()
		return b
	}
	blockPool.Unlock()
	return &block{data: new([peerwire.BlockSize]byte)}
}

// putBlock returns a block and its slot.
func putBlock(b *block) {
	if b.slot {
		b.slot = false
		<-inflight
	}
	b.p = nil
	blockPool.Lock()
	if len(blockPool.free) < maxFreeBlocks {
		blockPool.free = append(blockPool.free, b)
	}
	blockPool.Unlock()
}

// bytes returns the block's payload.
func (b *block) bytes() []byte { return b.data[:b.n] }

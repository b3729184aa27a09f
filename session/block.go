package session

import (
	"sync"

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
	data  *[peerwire.BlockSize]byte
}

var blockPool = sync.Pool{New: func() any {
	return &block{data: new([peerwire.BlockSize]byte)}
}}

func getBlock() *block { return blockPool.Get().(*block) }

func putBlock(b *block) {
	b.p = nil
	blockPool.Put(b)
}

// bytes returns the block's payload.
func (b *block) bytes() []byte { return b.data[:b.n] }

package session

import (
	"context"

	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/storage"
)

// readCacheBytes bounds the memory of whole pieces kept for uploading, per
// session: peers ask for a piece's blocks in order, so a few pieces suffice.
const readCacheBytes = 16 << 20

// store is what the session needs from the torrent's files: blocks for
// uploads, positioned writes for verified pieces, the start-up check.
type store interface {
	blockReader
	pieceStore
	// Check returns the indices of the pieces whose data on disk is
	// already correct.
	Check(ctx context.Context) ([]int, error)
	Sync() error
	Close() error
}

// fileStore adapts package storage: uploads go through its read cache.
type fileStore struct {
	*storage.Storage
	cache *storage.ReadCache
}

func openStore(dir string, info *metainfo.Info) (store, error) {
	st, err := storage.Open(dir, info, storage.Options{})
	if err != nil {
		return nil, err
	}
	return fileStore{Storage: st, cache: storage.NewReadCache(st, readCacheBytes)}, nil
}

// ReadBlock serves an upload from the read cache.
func (s fileStore) ReadBlock(index int, begin int64, buf []byte) error {
	return s.cache.ReadBlock(index, begin, buf)
}

func (s fileStore) Check(ctx context.Context) ([]int, error) {
	have, err := s.Storage.Check(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []int
	for i := 0; i < have.Len(); i++ {
		if have.Has(i) {
			out = append(out, i)
		}
	}
	return out, nil
}

package session

import (
	"context"

	"github.com/effusion-bt/effusion/bitset"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/storage"
)

// readCacheBytes bounds the memory of whole pieces kept for uploading, per
// session: peers ask for a piece's blocks in order, so a few pieces suffice.
const readCacheBytes = 16 << 20

// fileStore is the torrent's files (package storage): uploads go through
// its read cache.
type fileStore struct {
	*storage.Storage
	cache *storage.ReadCache
}

func openStore(dir string, info *metainfo.Info, opts storage.Options) (fileStore, error) {
	st, err := storage.Open(dir, info, opts)
	if err != nil {
		return fileStore{}, err
	}
	return fileStore{Storage: st, cache: storage.NewReadCache(st, readCacheBytes)}, nil
}

// ReadBlock serves an upload from the read cache.
func (s fileStore) ReadBlock(index int, begin int64, buf []byte) error {
	return s.cache.ReadBlock(index, begin, buf)
}

// check hashes the pieces not known from a resume (all of them without
// one) and returns the verified ones, known or checked, and how many it
// hashed.
func (s fileStore) check(ctx context.Context, r *Resume) ([]int, int, error) {
	var which bitset.Set
	checked := s.NumPieces()
	if r != nil {
		which = bitset.New(s.NumPieces())
		for i := range s.NumPieces() {
			if !r.Known.Has(i) {
				which.Set(i)
			}
		}
	}
	var have bitset.Set
	var err error
	if r != nil {
		checked = which.Count()
	}
	if checked == 0 {
		have = bitset.New(s.NumPieces())
	} else if have, err = s.Storage.CheckPieces(ctx, which, nil); err != nil {
		return nil, 0, err
	}
	var out []int
	for i := range s.NumPieces() {
		if have.Has(i) || r != nil && r.Known.Has(i) && r.Have.Has(i) {
			out = append(out, i)
		}
	}
	return out, checked, nil
}

package webseed

import (
	"strings"

	"github.com/effusion-bt/effusion/metainfo"
)

// avail is what a seed can still serve: per problem file, the prefix that
// may be asked for, and the pieces that lie (partly) beyond it. Files not
// listed are wholly servable. Guarded by Seed.mu.
type avail struct {
	info  *metainfo.Info
	files map[int]fileLimit // problem files only
	bad   bitset            // unservable pieces; nil until the first
	nbad  int
}

type fileLimit struct {
	limit int64 // bytes [0, limit) of the file may be asked for
	err   error // why no more
}

func (a *avail) init(info *metainfo.Info) { a.info = info }

// restrict lets file fi be asked for its first limit bytes only, and marks
// the pieces overlapping the rest unservable. A tighter earlier limit
// stays. It returns the error for callers.
func (a *avail) restrict(fi int, limit int64, cause error) *UnavailableError {
	f := &a.info.Files[fi]
	if old, ok := a.files[fi]; ok && old.limit <= limit {
		return a.errFor(fi, old.err)
	}
	if a.files == nil {
		a.files = map[int]fileLimit{}
	}
	a.files[fi] = fileLimit{limit: limit, err: cause}
	if limit < f.Length {
		if a.bad == nil {
			a.bad = newBitset(len(a.info.Pieces))
		}
		pl := a.info.PieceLength
		for p := (f.Offset + limit) / pl; p <= (f.Offset+f.Length-1)/pl; p++ {
			if !a.bad.has(int(p)) {
				a.bad.set(int(p))
				a.nbad++
			}
		}
	}
	return a.errFor(fi, cause)
}

// check returns an error when [pos, pos+n) of file fi may not be asked for.
func (a *avail) check(fi int, pos, n int64) *UnavailableError {
	if fl, ok := a.files[fi]; ok && pos+n > fl.limit {
		return a.errFor(fi, fl.err)
	}
	return nil
}

func (a *avail) errFor(fi int, cause error) *UnavailableError {
	return &UnavailableError{File: fi, Path: strings.Join(a.info.Files[fi].Path, "/"), Err: cause}
}

func (a *avail) appendBitfield(dst []byte, n int) []byte {
	start := len(dst)
	for range (n + 7) / 8 {
		dst = append(dst, 0xff)
	}
	bf := dst[start:]
	if r := n % 8; r != 0 {
		bf[len(bf)-1] = 0xff << (8 - r)
	}
	if a.nbad > 0 {
		for i := range n {
			if a.bad.has(i) {
				bf[i/8] &^= 0x80 >> (i % 8)
			}
		}
	}
	return dst
}

type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) has(i int) bool { return b != nil && b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }

package client

import (
	"github.com/effusion-bt/effusion/bitset"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/session"
	"github.com/effusion-bt/effusion/storage"
)

// trust decides, from a resume record and the files as they are now, what
// a restart may take without reading (libtorrent's rule): a file whose
// size and modification time are those recorded is unchanged since, so
// the pieces that lie only in such files are known (verified if the record
// says so, missing otherwise); every other piece is hashed again. A piece
// touching a file that does not exist depends on the part file too (what it
// holds of skipped files), which must then be unchanged as well. A record
// that does not fit the torrent trusts nothing.
func trust(info *metainfo.Info, rec *resumeRec, now []storage.FileStat) *session.Resume {
	n := info.NumPieces()
	if rec == nil || len(rec.Files) != len(info.Files)+1 || len(now) != len(rec.Files) {
		return nil
	}
	have, err := bitset.FromBytes(rec.Have, n)
	if err != nil {
		return nil
	}
	same := make([]bool, len(now))
	for i, f := range now {
		r := rec.Files[i]
		same[i] = r.Size == f.Size && (f.Size < 0 || r.MTime == f.ModTime.UnixNano())
	}
	partSame := same[len(now)-1]
	known := bitset.New(n)
	files := info.Files
	j := 0 // first file that may touch the current piece
	for p := range n {
		start := int64(p) * info.PieceLength
		end := start + info.PieceLen(p)
		for j < len(files) && files[j].Offset+files[j].Length <= start {
			j++
		}
		ok := true
		for k := j; k < len(files) && files[k].Offset < end && ok; k++ {
			f := files[k]
			if f.Padding || len(f.SymlinkPath) > 0 || f.Length == 0 || f.Offset+f.Length <= start {
				continue
			}
			ok = same[k] && (now[k].Size >= 0 || partSame)
		}
		if ok {
			known.Set(p)
		}
	}
	for p := range n {
		if !known.Has(p) {
			have.Clear(p)
		}
	}
	return &session.Resume{Known: known, Have: have}
}

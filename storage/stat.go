package storage

import (
	"errors"
	"io/fs"
	"time"
)

// FileStat is what a resume record remembers of a data file: a file whose
// size and modification time still match is trusted to hold what it held
// (libtorrent's rule); any other is checked again.
type FileStat struct {
	Size    int64     // -1: the file does not exist
	ModTime time.Time // zero when missing
}

// Stat returns the size and modification time of every file of the layout
// (padding files as missing) and, last, of the part file. It opens and
// creates nothing.
func (s *Storage) Stat() ([]FileStat, error) {
	out := make([]FileStat, len(s.files)+1)
	stat := func(rel string) (FileStat, error) {
		st, err := s.root.Stat(rel)
		if errors.Is(err, fs.ErrNotExist) {
			return FileStat{Size: -1}, nil
		}
		if err != nil {
			return FileStat{}, err
		}
		if !st.Mode().IsRegular() {
			return FileStat{Size: -1}, nil
		}
		return FileStat{Size: st.Size(), ModTime: st.ModTime()}, nil
	}
	for i, f := range s.files {
		if f.padding {
			out[i] = FileStat{Size: -1}
			continue
		}
		st, err := stat(f.rel)
		if err != nil {
			return nil, err
		}
		out[i] = st
	}
	st, err := stat(s.part.rel)
	if err != nil {
		return nil, err
	}
	out[len(s.files)] = st
	return out, nil
}

// PieceFiles returns the files (indices into the layout) that piece i
// touches, padding included, appended to dst.
func (s *Storage) PieceFiles(i int, dst []int) []int {
	start := int64(i) * s.pieceLen
	end := start + s.PieceLen(i)
	for j := s.locate(start); j < len(s.files) && s.files[j].offset < end; j++ {
		dst = append(dst, j)
	}
	return dst
}

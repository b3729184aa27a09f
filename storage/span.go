package storage

// Span is a byte range of a torrent that lies within one file, held open
// so that it can be sent without passing through user space (sendfile).
// Release it once sent; until then its file stays open.
type Span struct {
	c   *fileCache
	h   *handle
	Off int64 // where the range starts in its file
	N   int   // its length
}

// Fd returns the descriptor of the span's file, valid until Release.
func (sp Span) Fd() uintptr { return sp.h.f.Fd() }

// Release lets the file cache close the span's file again.
func (sp Span) Release() { sp.c.release(sp.h, false) }

// FileSpan returns the bytes [begin, begin+n) of piece index as a Span
// when they lie in one file that exists. ok is false when they cross a
// file boundary, lie in a padding file or in the part file: ReadBlock
// serves those. A
// missing file yields an error wrapping fs.ErrNotExist, like ReadBlock.
func (s *Storage) FileSpan(index int, begin int64, n int) (sp Span, ok bool, err error) {
	if index < 0 || index >= len(s.hashes) || begin < 0 || n <= 0 || begin+int64(n) > s.PieceLen(index) {
		return Span{}, false, s.rangeErr("read", index, begin, int64(n))
	}
	off := int64(index)*s.pieceLen + begin
	i := s.locate(off)
	f := &s.files[i]
	s.route.RLock()
	inPart := f.inPart
	s.route.RUnlock()
	if f.padding || inPart || off+int64(n) > f.offset+f.length {
		return Span{}, false, nil
	}
	h, err := s.fc.acquire(i, false)
	if err != nil {
		return Span{}, false, err
	}
	return Span{c: s.fc, h: h, Off: off - f.offset, N: n}, true, nil
}

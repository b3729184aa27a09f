package core

// Smart ban: when a piece fails verification, the shell may pass a digest
// of each block as received. The core remembers who sent which block; when
// the piece later verifies, blocks whose digest differs from the good
// data's identify the peer that lied, which is banned, and peers whose
// blocks were all good lose the strike that failure gave them.

// maxFailRecords bounds the failed pieces remembered for smart banning.
const maxFailRecords = 64

// failRecord is what a failed piece looked like: per block, who sent it and
// a digest of what they sent.
type failRecord struct {
	piece   uint32
	from    []PeerID
	digests []uint64
}

// NeedDigests reports whether the shell should pass block digests with the
// verification of piece i (PieceHashedDigests): true while i has a
// remembered failure. Digests of a failed piece are always useful.
func (t *Torrent) NeedDigests(i uint32) bool {
	for k := range t.fails {
		if t.fails[k].piece == i {
			return true
		}
	}
	return false
}

// PieceHashedDigests is PieceHashed with, for smart banning, one digest per
// block of the piece as stored (any 64-bit digest a peer cannot steer to a
// chosen value, such as the first 8 bytes of the block's SHA-1), in block
// order. A digests slice of the wrong length is ignored (PieceHashed
// alone). The core copies what it keeps.
func (t *Torrent) PieceHashedDigests(piece uint32, ok bool, digests []uint64) {
	if int(piece) >= t.n || t.state[piece] != stHashing {
		return
	}
	r := &t.recs[t.rec[piece]]
	if len(digests) != len(r.blocks) {
		t.PieceHashed(piece, ok)
		return
	}
	if !ok {
		t.rememberFailure(piece, r, digests)
		t.PieceHashed(piece, false)
		return
	}
	for k := 0; k < len(t.fails); k++ {
		f := &t.fails[k]
		if f.piece != piece {
			continue
		}
		t.judge(f, digests)
	}
	t.PieceHashed(piece, true) // forgets the records
}

func (t *Torrent) rememberFailure(piece uint32, r *record, digests []uint64) {
	if len(t.fails) == maxFailRecords {
		t.fails = append(t.fails[:0], t.fails[1:]...)
	}
	f := failRecord{piece: piece, from: make([]PeerID, len(r.blocks)), digests: append([]uint64(nil), digests...)}
	for b := range r.blocks {
		f.from[b] = r.blocks[b].from
	}
	t.fails = append(t.fails, f)
}

// judge compares a failed attempt with the good data: senders of differing
// blocks are banned, senders whose blocks were all good are forgiven the
// strike.
func (t *Torrent) judge(f *failRecord, good []uint64) {
	// t.contrib lists the senders judged so far: the guilty first, then
	// the forgiven (each once, in one pass over the blocks apiece).
	t.contrib = t.contrib[:0]
	for b, id := range f.from {
		if f.digests[b] != good[b] && !containsID(t.contrib, id) {
			t.contrib = append(t.contrib, id)
			if p := t.lookup(id); p != nil {
				t.drop(p, ReasonBadData, true)
			}
		}
	}
	for _, id := range f.from {
		if containsID(t.contrib, id) {
			continue // guilty, or forgiven already
		}
		t.contrib = append(t.contrib, id)
		if p := t.lookup(id); p != nil && p.strikes > 0 {
			p.strikes--
		}
	}
}

// forgetFailures drops the failure records of a verified piece.
func (t *Torrent) forgetFailures(piece uint32) {
	for k := 0; k < len(t.fails); k++ {
		if t.fails[k].piece == piece {
			t.fails = append(t.fails[:k], t.fails[k+1:]...)
			k--
		}
	}
}

func containsID(s []PeerID, id PeerID) bool {
	for _, x := range s {
		if x == id {
			return true
		}
	}
	return false
}

package metadata

import "crypto/sha1"

// Verifying copies and convicting liars: the info-hash is the only ground
// truth, so blame comes from solo copies and from piece digests compared
// with the copy that verifies (see the package documentation).

// pickSoloist chooses the peer that proves the next copy alone: an
// eligible peer tried the fewest times, ties at random.
func (f *Fetcher) pickSoloist() {
	f.soloist = nil
	f.order = f.order[:0]
	least := -1
	for _, p := range f.peers {
		if !f.eligible(p) {
			continue
		}
		switch {
		case least < 0 || p.soloTries < least:
			least = p.soloTries
			f.order = append(f.order[:0], p)
		case p.soloTries == least:
			f.order = append(f.order, p)
		}
	}
	if len(f.order) > 0 {
		f.soloist = f.order[f.rng.IntN(len(f.order))]
	}
	clear(f.order)
}

// abandonSolo stops asking the soloist (it rejected, timed out or left).
// Its pieces stay, and its late answers still count, until another peer
// becomes soloist: that one starts afresh, so that a copy that fails
// always has a single source.
func (f *Fetcher) abandonSolo() {
	f.soloist.soloTries++
	f.soloist = nil
}

func (f *Fetcher) resetCopy() {
	for i := range f.n {
		f.pieces[i] = f.pieces[i][:0]
		f.have[i] = false
		f.src[i] = NoPeer
	}
	f.nhave = 0
}

// judge checks a complete copy against the info-hash.
func (f *Fetcher) judge() {
	buf := f.hashBuf[:0]
	if cap(buf) < f.size {
		buf = make([]byte, 0, f.size)
	}
	for i := range f.n {
		buf = append(buf, f.pieces[i]...)
	}
	f.hashBuf = buf
	if sha1.Sum(buf) == f.cfg.InfoHash {
		f.succeed(buf)
		return
	}
	// Failed. A single source is the liar; with several, remember who sent
	// what and prove the next copies one peer at a time.
	single := true
	for i := 1; i < f.n; i++ {
		if f.src[i] != f.src[0] {
			single = false
			break
		}
	}
	if single {
		if p := f.lookup(f.src[0]); p != nil {
			f.drop(p, ReasonBadData, true)
		}
	} else {
		if over := len(f.blame) + f.n - maxBlame; over > 0 {
			f.blame = append(f.blame[:0], f.blame[over:]...)
		}
		for i := range f.n {
			f.blame = append(f.blame, blame{piece: i, digest: sha1.Sum(f.pieces[i]), src: f.src[i]})
		}
		f.solo = true
		f.soloist, f.copyFrom = nil, NoPeer
	}
	f.resetCopy()
}

func (f *Fetcher) succeed(buf []byte) {
	f.done = true
	f.info = buf
	f.hashBuf = nil
	f.rd.Info = buf
	if len(f.blame) > 0 {
		f.digests = make([][20]byte, f.n)
		for i := range f.n {
			f.digests[i] = sha1.Sum(buf[i*PieceSize : i*PieceSize+len(f.pieces[i])])
		}
		for _, b := range f.blame {
			if b.digest != f.digests[b.piece] {
				if p := f.lookup(b.src); p != nil {
					f.drop(p, ReasonBadData, true)
				}
			}
		}
	}
	for _, p := range f.peers {
		if p != nil && p.live && p.size != 0 && p.size != f.size {
			f.drop(p, ReasonSizeMismatch, false)
		}
	}
	for _, p := range f.peers {
		if p != nil {
			p.asked, p.pend = nil, nil
		}
	}
	f.pieces, f.have, f.src, f.inflight, f.blame, f.digests = nil, nil, nil, nil, nil, nil
	f.soloist = nil
}

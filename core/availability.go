package core

// Availability rules. The first availability message (BITFIELD, or BEP 6's
// HAVE ALL or HAVE NONE) must come before any HAVE or block; real clients
// bend the rest (aria2 sends INTERESTED before its bitfield, repeats its
// bitfield, or follows HAVE NONE with a bitfield), so a repeat is accepted
// when it only adds pieces (they count as HAVEs) and drops the peer
// (ReasonBadBitfield) when it takes one back. HAVE ALL and HAVE NONE need
// the fast extension (ReasonProtocol otherwise). These are the only
// availability rules: the shell forwards the messages as they come.

// PeerBitfield records the peer's bitfield in wire format: exactly
// ceil(n/8) bytes with the spare bits zero, else the peer is dropped
// (ReasonBadBitfield).
func (t *Torrent) PeerBitfield(id PeerID, bf []byte) {
	p := t.from(id)
	if p == nil {
		return
	}
	if len(bf) != (t.n+7)/8 {
		t.drop(p, ReasonBadBitfield, false)
		return
	}
	if spare := t.n % 8; spare != 0 && bf[len(bf)-1]&(0xff>>spare) != 0 {
		t.drop(p, ReasonBadBitfield, false)
		return
	}
	if !t.firstAvail(p, ReasonBadBitfield) {
		if p.gotAvail && t.chat(p) {
			t.moreAvail(p, bf)
		}
		return
	}
	if allSet(bf, t.n) {
		t.seedAll(p)
	} else {
		for i, b := range bf {
			for b != 0 {
				j := leadingZeros8(b)
				b &^= 0x80 >> j
				t.peerGains(p, uint32(i*8+j))
			}
		}
	}
	t.afterGain(p)
}

// firstAvail takes p's first availability message: false when it is a
// repeat (p.gotAvail) or, dropping p with r, when it comes after a HAVE or
// a block.
func (t *Torrent) firstAvail(p *peer, r Reason) bool {
	if p.gotAvail {
		return false
	}
	if p.sawOther {
		t.drop(p, r, false)
		return false
	}
	p.gotAvail = true
	return true
}

// moreAvail applies a repeated bitfield: pieces it adds are HAVEs; taking
// one back drops the peer.
func (t *Torrent) moreAvail(p *peer, bf []byte) {
	if p.seedCounted {
		if !allSet(bf, t.n) {
			t.drop(p, ReasonBadBitfield, false)
		}
		return
	}
	for i := 0; i < t.n; i++ {
		if p.bits.has(uint32(i)) && bf[i>>3]&(0x80>>(i&7)) == 0 {
			t.drop(p, ReasonBadBitfield, false)
			return
		}
	}
	gained := false
	for i, b := range bf {
		for b != 0 {
			j := leadingZeros8(b)
			b &^= 0x80 >> j
			if k := uint32(i*8 + j); !p.bits.has(k) {
				t.peerGains(p, k)
				gained = true
			}
		}
	}
	if gained {
		t.afterGain(p)
	}
}

// PeerHave records a HAVE. An index out of range drops the peer
// (ReasonBadIndex); a repeated HAVE is ignored.
func (t *Torrent) PeerHave(id PeerID, piece uint32) {
	p := t.from(id)
	if p == nil {
		return
	}
	if int(piece) >= t.n {
		t.drop(p, ReasonBadIndex, false)
		return
	}
	p.sawOther = true
	if p.bits.has(piece) {
		t.chat(p)
		return
	}
	t.peerGains(p, piece)
	t.afterGain(p)
}

// PeerHaveAll records a BEP 6 HAVE ALL (also as a repeat: the peer became a
// seed).
func (t *Torrent) PeerHaveAll(id PeerID) {
	p := t.from(id)
	if p == nil {
		return
	}
	if !p.fast {
		t.drop(p, ReasonProtocol, false)
		return
	}
	if !t.firstAvail(p, ReasonProtocol) {
		if !p.gotAvail || p.seedCounted {
			return
		}
		// A repeat: the peer completed. Seeds are counted apart from the
		// per-piece availability, so take its pieces out of it first.
		for w, word := range p.bits {
			for word != 0 {
				t.availDec(uint32(w*64) + uint32(trailingZeros(word)))
				word &= word - 1
			}
		}
	}
	t.seedAll(p)
	t.afterGain(p)
}

// PeerHaveNone records a BEP 6 HAVE NONE; as a repeat it may not take
// pieces back.
func (t *Torrent) PeerHaveNone(id PeerID) {
	p := t.from(id)
	if p == nil {
		return
	}
	if !p.fast {
		t.drop(p, ReasonProtocol, false)
		return
	}
	if !t.firstAvail(p, ReasonProtocol) && p.gotAvail && p.npieces > 0 {
		t.drop(p, ReasonBadBitfield, false)
	}
}

// seedAll records that p has every piece. Seeds are counted apart
// (t.seeds): they add one to every piece alike, which leaves the rarity
// order unchanged, so a seed's arrival and departure cost O(n/64), not n
// bucket moves.
func (t *Torrent) seedAll(p *peer) {
	for w := range p.bits {
		p.bits[w] = ^uint64(0)
	}
	if r := t.n % 64; r != 0 {
		p.bits[len(p.bits)-1] = 1<<r - 1
	}
	p.npieces = t.n
	p.interesting = t.needCount
	p.seedCounted = true
	t.seeds++
}

// allSet reports whether a wire bitfield of n pieces has every bit set.
func allSet(bf []byte, n int) bool {
	for i := 0; i < n/8; i++ {
		if bf[i] != 0xff {
			return false
		}
	}
	if r := n % 8; r != 0 {
		return bf[n/8] == byte(0xff<<(8-r))
	}
	return true
}

func (t *Torrent) peerGains(p *peer, i uint32) {
	p.bits.set(i)
	p.npieces++
	t.availInc(i)
	if t.need.has(i) {
		p.interesting++
	}
}

func (t *Torrent) afterGain(p *peer) {
	t.updateInterest(p)
	p.stuck = false
	t.markDirty(p)
	if p.npieces == t.n && t.haveCount == t.n {
		t.drop(p, ReasonBothSeeds, false)
	}
}

// updateInterest sends INTERESTED or NOT INTERESTED when our need of the
// peer's pieces changed.
func (t *Torrent) updateInterest(p *peer) {
	want := p.interesting > 0
	if want == p.amInterested {
		return
	}
	p.amInterested = want
	if want {
		t.emit(p, MsgInterested, 0, 0, 0)
		p.stuck = false
		t.markDirty(p)
	} else {
		t.emit(p, MsgNotInterested, 0, 0, 0)
	}
}

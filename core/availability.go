package core

// PeerBitfield records the peer's bitfield in wire format. It must be the
// peer's first availability message and exactly ceil(n/8) bytes with the
// spare bits zero; otherwise the peer is dropped (ReasonBadBitfield).
func (t *Torrent) PeerBitfield(id PeerID, bf []byte) {
	p := t.lookup(id)
	if p == nil {
		return
	}
	if p.gotAvail || p.sawHave || len(bf) != (t.n+7)/8 {
		t.drop(p, ReasonBadBitfield, false)
		return
	}
	if spare := t.n % 8; spare != 0 && bf[len(bf)-1]&(0xff>>spare) != 0 {
		t.drop(p, ReasonBadBitfield, false)
		return
	}
	p.gotAvail = true
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

// PeerHave records a HAVE. An index out of range drops the peer
// (ReasonBadIndex); a repeated HAVE is ignored.
func (t *Torrent) PeerHave(id PeerID, piece uint32) {
	p := t.lookup(id)
	if p == nil {
		return
	}
	if int(piece) >= t.n {
		t.drop(p, ReasonBadIndex, false)
		return
	}
	p.sawHave = true
	if p.bits.has(piece) {
		return
	}
	t.peerGains(p, piece)
	t.afterGain(p)
}

// PeerHaveAll records a BEP 6 HAVE ALL. Without the fast extension, or
// after another availability message, the peer is dropped.
func (t *Torrent) PeerHaveAll(id PeerID) {
	if p := t.takeAvail(id); p != nil {
		t.seedAll(p)
		t.afterGain(p)
	}
}

// PeerHaveNone records a BEP 6 HAVE NONE, with the same rules as
// PeerHaveAll.
func (t *Torrent) PeerHaveNone(id PeerID) { t.takeAvail(id) }

// takeAvail records that peer id sent a HAVE ALL or HAVE NONE and returns
// it, or nil when the peer is unknown or was dropped for sending one
// without the fast extension or after another availability message.
func (t *Torrent) takeAvail(id PeerID) *peer {
	p := t.lookup(id)
	if p == nil {
		return nil
	}
	if !p.fast || p.gotAvail || p.sawHave {
		t.drop(p, ReasonProtocol, false)
		return nil
	}
	p.gotAvail = true
	return p
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

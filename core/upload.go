package core

import "slices"

// PeerRequest vets a request the peer sent us. Out of range requests drop
// the peer; requests for pieces we lack, or while we choke the peer (except
// for pieces granted with GrantAllowedFast), are rejected (fast extension)
// or ignored.
func (t *Torrent) PeerRequest(id PeerID, piece, begin, length uint32) RequestVerdict {
	p := t.lookup(id)
	if p == nil {
		return RequestIgnore
	}
	if int(piece) >= t.n || length == 0 || length > MaxBlockLen ||
		int64(begin)+int64(length) > t.PieceLen(piece) {
		t.drop(p, ReasonBadIndex, false)
		return RequestViolation
	}
	if !t.have.has(piece) || p.amChoking && !slices.Contains(p.granted, piece) {
		if p.fast {
			return RequestReject
		}
		return RequestIgnore
	}
	return RequestServe
}

// Uploaded records n payload bytes sent to the peer (for the upload rate
// the seeding choker ranks by).
func (t *Torrent) Uploaded(id PeerID, n int) {
	p := t.lookup(id)
	if p == nil || n <= 0 {
		return
	}
	p.up.add(int64(n))
	p.uploaded += int64(n)
	t.up.add(int64(n))
	t.uploaded += int64(n)
}

// GrantAllowedFast records that we sent the peer ALLOWED FAST for piece (BEP
// 6; the canonical set is peerwire.AllowedFastSet): PeerRequest serves it
// even while we choke the peer. Pieces out of range, peers without the fast
// extension and grants beyond 32 per peer are ignored.
func (t *Torrent) GrantAllowedFast(id PeerID, piece uint32) {
	p := t.lookup(id)
	if p == nil || !p.fast || int(piece) >= t.n || len(p.granted) >= maxAllowedFast ||
		slices.Contains(p.granted, piece) {
		return
	}
	p.granted = append(p.granted, piece)
}

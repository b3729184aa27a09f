package core

// AdmitRequest is the rule for a request a peer sent us (its bounds already
// checked by the wire codec): serve a piece we have, unless we choke the
// peer and the piece is not one we granted it with ALLOWED FAST; otherwise
// reject it when the fast extension lets us say so, or ignore it. The same
// rule applies to queued requests when we choke a peer.
//
// It is a pure function of the four facts, so that the shell can admit
// requests on each peer's own goroutine (from its atomic have-set and the
// choke state it keeps) without a round trip through the core's owner.
func AdmitRequest(have, choking, allowedFast, fast bool) RequestVerdict {
	if have && (!choking || allowedFast) {
		return RequestServe
	}
	if fast {
		return RequestReject
	}
	return RequestIgnore
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

// greet emits a new peer's greeting: our availability, in the form its
// extensions allow, then ALLOWED FAST for the pieces of its allowed fast
// set that we have.
func (t *Torrent) greet(p *peer, availSent bool, allowedFast []uint32) {
	switch {
	case availSent:
	case p.fast && t.haveCount == t.n:
		t.emit(p, MsgHaveAll, 0, 0, 0)
	case p.fast && t.haveCount == 0:
		t.emit(p, MsgHaveNone, 0, 0, 0)
	case t.haveCount > 0:
		t.emit(p, MsgBitfield, 0, 0, 0)
	}
	if !p.fast {
		return
	}
	granted := 0
	for _, i := range allowedFast {
		if granted == AllowedFastCount {
			break
		}
		if int(i) < t.n && t.have.has(i) {
			t.emit(p, MsgAllowedFast, i, 0, 0)
			granted++
		}
	}
}

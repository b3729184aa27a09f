// Package core is the deterministic heart of a torrent's download and
// upload: piece picking, request pipelining, choking and verification
// accounting, as a pure state machine. It does no I/O, starts no goroutines,
// reads no clock and allocates nothing per block in steady state. The
// session server (the shell) owns the sockets, the storage and the hasher;
// it reports each event to a Torrent and performs the decisions the Torrent
// hands back in a Ready batch, in the manner of etcd's raft.
//
// # Time
//
// Time is a value the shell passes in: Tick(now), where now is a
// time.Duration on the shell's monotonic clock since any fixed origin
// (time.Since(start)). Every timeout, rate and choking round is computed
// from the Tick values, so tests drive the core through virtual time. Tick
// about once a second.
//
// # Peers
//
// PeerConnected returns a PeerID, a small handle (PeerID.Slot indexes a
// slice) tagged with a generation so stale handles are ignored. Every event
// names the peer it came from. When the core decides a peer must go (bad
// data, a protocol violation) it lists it in Ready.Drops and ignores further
// events from it; the shell closes the connection and calls PeerGone, after
// which the slot may be reused.
//
// # The shell's loop
//
// One goroutine owns the Torrent. Its loop, in outline:
//
//	t, err := core.New(core.Config{NumPieces: n, PieceLength: plen, TotalLength: total, Seed: seed})
//	for _, i := range verifiedOnDisk {
//		t.SetHave(i) // before peers connect
//	}
//	for {
//		select {
//		case <-ticker.C:
//			t.Tick(time.Since(start))
//		case c := <-connected: // handshake done
//			c.id = t.PeerConnected(core.Caps{Fast: c.fast, AllowedFast: peerwire.AllowedFastSet(...)})
//			// its greeting (bitfield or have all/none, allowed fast) is in the next Ready
//		case ev := <-fromPeers: // forwarded as they come; the core owns the rules
//			switch m := ev.msg; m.kind {
//			case bitfield:       t.PeerBitfield(ev.id, m.bits)
//			case have:           t.PeerHave(ev.id, m.index)
//			case haveAll:        t.PeerHaveAll(ev.id)
//			case haveNone:       t.PeerHaveNone(ev.id)
//			case choke:          t.PeerChoke(ev.id)
//			case unchoke:        t.PeerUnchoke(ev.id)
//			case interested:     t.PeerInterested(ev.id)
//			case notInterested:  t.PeerNotInterested(ev.id)
//			case allowedFast:    t.PeerAllowedFast(ev.id, m.index)
//			case suggest:        t.PeerSuggest(ev.id, m.index)
//			case reject:         t.PeerReject(ev.id, m.index, m.begin, m.length)
//			case piece: // the payload was read into a pooled buffer, buf
//				if t.BlockReceived(ev.id, m.index, m.begin, m.length, buf) != core.BlockAccepted {
//					recycle(buf) // else the core holds it until its piece is complete
//				}
//			}
//		case sent := <-uploads:   t.Uploaded(sent.id, sent.n)
//		case h := <-hashed:       t.PieceHashed(h.index, h.ok) // or PieceHashedDigests
//		case id := <-closed:      t.PeerGone(id)
//		case nc := <-newcomer:    // at the peer limit
//			if v := t.Evictable(); v != core.NoPeer { close v; admit nc }
//		}
//		rd := t.Ready() // fills request pipelines; valid until the next Ready
//		for _, m := range rd.Messages { send m.Kind to m.Peer }
//		for _, i := range rd.Hash     { hash t.TakePiece(i, nil) (hasher pool) → PieceHashed }
//		for _, i := range rd.Have     { send HAVE i to every peer }
//		for _, d := range rd.Drops    { close d.Peer; if d.Ban, ban its address }
//		for _, b := range rd.Discard  { recycle(b) }
//		if rd.Completed               { announce "completed" }
//	}
//
// Requests a peer sends us are admitted by AdmitRequest, a pure function
// the shell may call on the peer's own goroutine (from its have-set, its
// choke state and the allowed fast pieces it sent); when the core chokes a
// peer (MsgChoke) the shell applies the same rule to that peer's queued
// requests. CANCELs the peer sends us are the shell's business (remove from
// the upload queue).
package core

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
//			c.id = t.PeerConnected(core.Caps{Fast: c.fast, ReqQ: c.reqq})
//			send(c, bitfield or have-all/have-none from t.AppendBitfield)
//		case ev := <-fromPeers:
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
//			case request:
//				switch t.PeerRequest(ev.id, m.index, m.begin, m.length) {
//				case core.RequestServe:  queue the upload (bounded; REJECT beyond)
//				case core.RequestReject: send REJECT
//				}                        // Ignore, Violation: nothing (a Drop follows)
//			case piece: // the payload was read into a pooled buffer
//				if t.BlockReceived(ev.id, m.index, m.begin, m.length) == core.BlockAccepted {
//					store the block (piece buffer or pwrite)
//				}
//			}
//		case sent := <-uploads:   t.Uploaded(sent.id, sent.n)
//		case g := <-granted:      t.GrantAllowedFast(g.id, g.index) // after sending ALLOWED FAST
//		case h := <-hashed:       t.PieceHashed(h.index, h.ok) // or PieceHashedDigests
//		case id := <-closed:      t.PeerGone(id)
//		}
//		rd := t.Ready() // fills request pipelines; valid until the next Ready
//		for _, m := range rd.Messages { send m.Kind to m.Peer }
//		for _, i := range rd.Hash     { hash piece i (hasher pool) → PieceHashed }
//		for _, i := range rd.Have     { send HAVE i to every peer }
//		for _, d := range rd.Drops    { close d.Peer; if d.Ban, ban its address }
//		if rd.Completed               { announce "completed" }
//	}
//
// When the core chokes a peer (MsgChoke) the shell drops that peer's queued
// uploads, rejecting them when the fast extension is on. CANCELs the peer
// sends us are the shell's business too (remove from the upload queue).
//
// # Policies
//
// Picking: the first RandomFirst pieces at random, then rarest first, ties
// random; availability buckets updated in O(1) per HAVE, bitfield entry or
// departure, never re-sorted. A peer keeps to its current piece, then
// finishes partial pieces nobody is working on before starting new ones,
// and helps with other peers' current pieces only when it has nothing else
// to do; only pieces the peer has; allowed-fast pieces while it chokes us;
// suggestions as a hint. End game starts when every missing block is
// requested: a block may then be requested from up to EndgameDuplicates
// peers (by peers with nearly empty pipelines), and the others get CANCEL
// when it arrives. Picking costs amortised O(1) per block.
//
// Pipelining: 16 KiB blocks; each peer's pipeline is its download rate times
// RequestQueueTime, in blocks, with slow start, between MinRequests and
// min(MaxRequests, the peer's reqq). A peer that leaves requests unanswered
// for SnubTimeout is snubbed: its requests are cancelled and go to other
// peers; a single request dropped silently is cancelled after SnubTimeout. A choke without the fast extension returns the peer's requests to
// the pool; a REJECT returns one.
//
// Verification: a failed piece returns to the pool; each peer that sent
// one of its blocks gets a strike, and a sole contributor or a peer with
// BanStrikes strikes is dropped with Ban. A failed piece is then fetched
// from a single peer, so a second failure names the culprit. With block
// digests (PieceHashedDigests, NeedDigests) the core bans the liar as soon
// as the piece verifies and forgives the others (smart ban).
//
// Choking: UnchokeSlots regular slots re-ranked every RechokeInterval: by
// download rate while leeching (snubbed peers excluded), by upload rate
// with rotation while seeding; one optimistic slot rotating every
// OptimisticInterval, new peers three times as likely.
package core

package core

import (
	"testing"
	"time"
)

// FuzzEvents drives a Torrent with an arbitrary event sequence (including
// invalid ones) and checks after every step that it neither panics nor
// breaks an invariant: availability equals the live peers' bitfields,
// outstanding requests are only for pieces the peer has and are recorded
// on their blocks, duplicate requests stay within bounds, lists and
// records agree with piece states, readers' windows, wanted pieces and the
// deadline queue agree.
func FuzzEvents(f *testing.F) {
	f.Add([]byte{5, 1, 0, 1, 1, 3, 0, 7, 0, 7, 1, 7, 2, 12, 0, 1})
	f.Add([]byte{9, 2, 0, 1, 1, 2, 1, 4, 0, 4, 1, 7, 0, 7, 0, 7, 0, 13, 0, 1, 11, 200, 8, 1})
	f.Add([]byte{30, 0, 1, 0, 1, 1, 1, 2, 5, 0, 5, 1, 7, 0, 7, 1, 7, 0, 7, 1, 10, 0, 10, 1, 12, 0, 0, 11, 250, 11, 250})
	f.Add([]byte{3, 3, 0, 1, 0, 1, 6, 0, 6, 1, 7, 0, 7, 1, 14, 0, 15, 0, 1, 16, 1, 12, 1, 1})
	f.Add([]byte{20, 1, 0, 1, 1, 4, 0, 20, 50, 0, 200, 8, 16, 0, 6, 0, 7, 3, 0, 11, 2, 7, 1, 0, 20, 150, 1, 0, 0, 0, 1, 7, 2, 0, 11, 9, 21, 0, 12, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		n := int(data[0]%40) + 1
		plen := int64(data[1]%3+1) * BlockSize
		total := int64(n-1)*plen + 1 + int64(data[1])*97%plen
		tor, err := New(Config{NumPieces: n, PieceLength: plen, TotalLength: total, Seed: uint64(data[0]),
			EndgameDuplicates: int(data[1]%4) + 1, MinRequests: 2, MaxRequests: 6})
		if err != nil {
			t.Fatal(err)
		}
		data = data[2:]
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		var ids []PeerID
		var reqs []Message
		var hash []uint32
		peer := func() PeerID {
			if len(ids) == 0 {
				return NoPeer
			}
			return ids[int(next())%len(ids)]
		}
		now := time.Duration(0)
		tor.Tick(now)
		for steps := 0; len(data) > 0 && steps < 400; steps++ {
			switch op := next() % 22; op {
			case 0:
				ids = append(ids, tor.PeerConnected(Caps{Fast: next()%2 == 0, ReqQ: int(next() % 8)}))
			case 1:
				tor.PeerGone(peer())
			case 2:
				id := peer()
				bf := make([]byte, (n+7)/8+int(next()%2))
				for i := range bf {
					bf[i] = next()
				}
				tor.PeerBitfield(id, bf)
			case 3:
				tor.PeerHave(peer(), uint32(next()))
			case 4:
				tor.PeerHaveAll(peer())
			case 5:
				tor.PeerHaveNone(peer())
			case 6:
				tor.PeerUnchoke(peer())
			case 7:
				// Answer an outstanding request (the common case) or send
				// something else.
				if len(reqs) > 0 && next()%4 != 0 {
					k := int(next()) % len(reqs)
					m := reqs[k]
					reqs = append(reqs[:k], reqs[k+1:]...)
					tor.BlockReceived(m.Peer, m.Piece, m.Begin, m.Length, nil)
				} else {
					tor.BlockReceived(peer(), uint32(next()%uint8(n+1)), uint32(next()%4)*BlockSize, BlockSize, nil)
				}
			case 8:
				tor.PeerChoke(peer())
			case 9:
				tor.PeerInterested(peer())
			case 10:
				tor.PeerNotInterested(peer())
			case 11:
				now += time.Duration(next()) * 100 * time.Millisecond
				tor.Tick(now)
			case 12:
				if len(hash) > 0 {
					ok := next()%4 != 0
					if next()%2 == 0 {
						digests := make([]uint64, tor.numBlocks(hash[0]))
						for i := range digests {
							digests[i] = uint64(next() % 2)
						}
						tor.PieceHashedDigests(hash[0], ok, digests)
					} else {
						tor.PieceHashed(hash[0], ok)
					}
					hash = hash[1:]
				} else {
					tor.PieceHashed(uint32(next()), true)
				}
			case 13:
				if len(reqs) > 0 {
					k := int(next()) % len(reqs)
					m := reqs[k]
					reqs = append(reqs[:k], reqs[k+1:]...)
					tor.PeerReject(m.Peer, m.Piece, m.Begin, m.Length)
				}
			case 14:
				tor.PeerAllowedFast(peer(), uint32(next()%uint8(n+1)))
			case 15:
				tor.PeerSuggest(peer(), uint32(next()%uint8(n+1)))
			case 16:
				if next()%2 == 0 {
					tor.SetWanted(uint32(next()%uint8(n)), next()%2 == 0)
				} else {
					tor.SetPriority(uint32(next()%uint8(n)), Priority(next()%3))
				}
			case 17:
				if id := tor.Evictable(); id != NoPeer && next()%2 == 0 {
					tor.PeerGone(id)
				}
			case 18:
				tor.Uploaded(peer(), int(next())*100)
			case 19:
				tor.SetHave(uint32(next() % uint8(n)))
			case 20:
				// A reader's window: anywhere (out of range too), of any
				// readahead and rate, one of a few readers.
				w := Window{
					Pos:       int64(next())*total/200 - int64(next()%4),
					End:       int64(next()) * total / 128,
					Readahead: int64(next()) * BlockSize / 4,
					Rate:      int64(next()) * BlockSize,
				}
				_ = tor.SetReader(ReaderID(next()%3), w)
			case 21:
				tor.RemoveReader(ReaderID(next() % 4))
			}
			rd := tor.Ready()
			for _, m := range rd.Messages {
				if m.Kind == MsgRequest {
					reqs = append(reqs, m)
				}
			}
			hash = append(hash, rd.Hash...)
			if err := tor.checkInvariants(); err != nil {
				t.Fatalf("step %d: %v", steps, err)
			}
		}
		// Liveness: whatever happened, one seed that answers requests
		// (dropping some the first time they are asked) completes the
		// download while the other peers stay silent: unanswered requests
		// must time out and be made again, never stall it.
		for _, h := range hash {
			tor.PieceHashed(h, true)
		}
		dropped := map[[2]uint32]bool{}
		seed := tor.PeerConnected(Caps{Fast: true})
		tor.PeerHaveAll(seed)
		tor.PeerUnchoke(seed)
		for round := 0; !tor.Complete(); round++ {
			if round == 500 {
				st, _ := tor.PeerStats(seed)
				sp := tor.lookup(seed)
				t.Fatalf("download stalled: %+v; seed %+v; states %v stuck %v/%d epoch %d dirty %v endgame %v", tor.Stats(), st, tor.state, sp.stuck, sp.stuckEpoch, tor.epoch, sp.dirty, tor.endgame)
			}
			rd := tor.Ready()
			var mine []Message
			for _, m := range rd.Messages {
				if m.Kind == MsgRequest && m.Peer == seed {
					mine = append(mine, m)
				}
			}
			hashes := append([]uint32(nil), rd.Hash...)
			for _, m := range mine {
				k := [2]uint32{m.Piece, m.Begin}
				if (m.Piece*31+m.Begin/BlockSize)%5 == 0 && !dropped[k] {
					dropped[k] = true
					continue
				}
				tor.BlockReceived(seed, m.Piece, m.Begin, m.Length, nil)
			}
			for _, h := range hashes {
				tor.PieceHashed(h, true)
			}
			now += 5 * time.Second
			tor.Tick(now)
			if err := tor.checkInvariants(); err != nil {
				t.Fatalf("liveness round %d: %v", round, err)
			}
		}
	})
}

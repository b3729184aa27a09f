package core

import "testing"

func TestSmokeSingleSeed(t *testing.T) {
	tor, err := New(Config{NumPieces: 10, PieceLength: 64 << 10, TotalLength: 9*(64<<10) + 1000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tor.Tick(0)
	id := tor.PeerConnected(Caps{Fast: true})
	tor.PeerHaveAll(id)
	tor.PeerUnchoke(id)
	rounds := 0
	for !tor.Complete() && rounds < 1000 {
		rounds++
		rd := tor.Ready()
		var reqs []Message
		for _, m := range rd.Messages {
			if m.Kind == MsgRequest {
				reqs = append(reqs, m)
			}
		}
		for _, h := range rd.Hash {
			tor.PieceHashed(h, true)
		}
		for _, m := range reqs {
			if v := tor.BlockReceived(id, m.Piece, m.Begin, m.Length); v != BlockAccepted {
				t.Fatalf("block %+v: %v", m, v)
			}
		}
	}
	if !tor.Complete() {
		t.Fatalf("not complete: %+v", tor.Stats())
	}
}

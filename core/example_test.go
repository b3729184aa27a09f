package core_test

import (
	"fmt"
	"time"

	"github.com/effusion-bt/effusion/core"
)

// The shell's loop against one peer that has every piece and answers at
// once: each event is reported, then the Ready batch is performed.
func Example() {
	t, err := core.New(core.Config{NumPieces: 4, PieceLength: 64 << 10, TotalLength: 3*(64<<10) + 1000})
	if err != nil {
		panic(err)
	}
	t.Tick(0)
	peer := t.PeerConnected(core.Caps{Fast: true, ReqQ: 250})
	t.PeerHaveAll(peer)
	t.PeerUnchoke(peer)

	var requests, haves int
	var stored int64
	now := time.Duration(0)
	for !t.Complete() {
		rd := t.Ready()
		var blocks []core.Message // requests the peer will answer
		for _, m := range rd.Messages {
			switch m.Kind {
			case core.MsgInterested:
				fmt.Println("interested in", m.Peer)
			case core.MsgRequest:
				requests++
				blocks = append(blocks, m)
			}
		}
		for _, i := range rd.Hash {
			t.PieceHashed(i, true) // the shell hashes the stored blocks
		}
		haves += len(rd.Have)
		for _, m := range blocks {
			if t.BlockReceived(peer, m.Piece, m.Begin, m.Length, nil) == core.BlockAccepted {
				stored += int64(m.Length) // the shell stores the payload
			}
		}
		now += 100 * time.Millisecond
		t.Tick(now)
	}
	haves += len(t.Ready().Have)
	st := t.Stats()
	fmt.Println("requests:", requests, "stored:", stored, "verified:", st.Have, "HAVEs to send:", haves)
	// Output:
	// interested in peer1.1
	// requests: 13 stored: 197608 verified: 4 HAVEs to send: 4
}

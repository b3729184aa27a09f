package core

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// batch is a copy of a Ready batch, safe to keep.
type batch struct {
	msgs      []Message
	hash      []uint32
	have      []uint32
	drops     []Drop
	completed bool
}

func (b batch) kind(id PeerID, k MsgKind) []Message {
	var out []Message
	for _, m := range b.msgs {
		if m.Peer == id && m.Kind == k {
			out = append(out, m)
		}
	}
	return out
}

func (b batch) has(id PeerID, k MsgKind) bool { return len(b.kind(id, k)) > 0 }

// h wraps a Torrent for tests: every step checks the invariants.
type h struct {
	tb testing.TB
	*Torrent
}

func newH(tb testing.TB, cfg Config) *h {
	tb.Helper()
	if cfg.NumPieces == 0 {
		cfg.NumPieces = 16
	}
	if cfg.PieceLength == 0 {
		cfg.PieceLength = 4 * BlockSize
	}
	if cfg.TotalLength == 0 {
		cfg.TotalLength = int64(cfg.NumPieces) * cfg.PieceLength
	}
	tor, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tor.Tick(0)
	return &h{tb: tb, Torrent: tor}
}

func (x *h) ready() batch {
	x.tb.Helper()
	rd := x.Ready()
	b := batch{
		msgs: slices.Clone(rd.Messages), hash: slices.Clone(rd.Hash),
		have: slices.Clone(rd.Have), drops: slices.Clone(rd.Drops), completed: rd.Completed,
	}
	if err := x.checkInvariants(); err != nil {
		x.tb.Fatal(err)
	}
	return b
}

// seedPeer connects a peer with every piece that unchokes us.
func (x *h) seedPeer(fast bool) PeerID {
	id := x.PeerConnected(Caps{Fast: fast})
	if fast {
		x.PeerHaveAll(id)
	} else {
		x.PeerBitfield(id, full(x.n))
	}
	x.PeerUnchoke(id)
	return id
}

// peerWith connects an unchoking peer having exactly the given pieces.
func (x *h) peerWith(pieces ...uint32) PeerID {
	id := x.PeerConnected(Caps{Fast: true})
	x.PeerBitfield(id, bitfieldOf(x.n, pieces...))
	x.PeerUnchoke(id)
	return id
}

func (x *h) tick(d time.Duration) batch {
	x.Tick(x.now + d)
	return x.ready()
}

// deliver answers requests with blocks, hashing completed pieces as ok.
func (x *h) deliver(reqs []Message) batch {
	for _, m := range reqs {
		if v := x.BlockReceived(m.Peer, m.Piece, m.Begin, m.Length, nil); v != BlockAccepted {
			x.tb.Fatalf("block %+v: %v", m, v)
		}
	}
	return x.ready()
}

func full(n int) []byte {
	bf := make([]byte, (n+7)/8)
	for i := range n {
		bf[i/8] |= 0x80 >> (i % 8)
	}
	return bf
}

func bitfieldOf(n int, pieces ...uint32) []byte {
	bf := make([]byte, (n+7)/8)
	for _, i := range pieces {
		bf[i/8] |= 0x80 >> (i % 8)
	}
	return bf
}

func pieces(ms []Message) []uint32 {
	var out []uint32
	for _, m := range ms {
		if len(out) == 0 || out[len(out)-1] != m.Piece {
			out = append(out, m.Piece)
		}
	}
	return out
}

func TestNewRejectsBadGeometry(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{NumPieces: 1, PieceLength: 0, TotalLength: 1},
		{NumPieces: MaxPieces + 1, PieceLength: 1 << 14, TotalLength: 1},
		{NumPieces: 2, PieceLength: 100, TotalLength: 100},
		{NumPieces: 2, PieceLength: 100, TotalLength: 201},
		{NumPieces: 1, PieceLength: 128 << 20, TotalLength: 128 << 20},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

package metadata

import (
	"bytes"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// FuzzFetcher drives a Fetcher with hostile event sequences: peers with
// any announced size, data for pieces asked or not, of any total_size and
// length, honest or not, rejects, departures and time jumps. Properties:
// no panic; the invariants hold after every batch (helpers_test.go:
// outstanding counts, per-peer limits, a solo copy's single source);
// requests go only to live peers announcing the size being fetched; every
// drop names a live peer, once; and metadata handed out is always the
// true metadata.
func FuzzFetcher(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 0, 0, 0, 1, 7, 0, 0, 0, 5, 0, 0, 0, 5, 0, 1, 0, 5, 0, 0, 0})
	f.Add([]byte{3, 0, 0, 1, 0, 1, 0, 1, 0, 2, 0, 2, 7, 0, 0, 0, 6, 0, 0, 0, 6, 1, 0, 0, 5, 0, 0, 0, 4, 0, 0, 200})
	f.Add([]byte{9, 9, 0, 0, 0, 3, 0, 0, 0, 3, 0, 1, 2, 0, 0, 0, 2, 1, 3, 4, 3, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 255})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		size := 1 + (int(in[0])<<8|int(in[1]))*97%(5*PieceSize)
		info, ih := testInfo(size, 7)
		in = in[2:]
		x := newFx(t, Config{InfoHash: ih, MaxInFlight: 1 + int(size%3)})
		type fp struct {
			id      PeerID
			size    int
			live    bool // not dropped, not gone
			gone    bool
			pending []int // requests received, unanswered
		}
		var peers []*fp
		byID := map[PeerID]*fp{}
		pick := func(b byte) *fp {
			if len(peers) == 0 {
				return nil
			}
			return peers[int(b)%len(peers)]
		}
		sizes := func(v byte) int {
			switch v % 6 {
			case 0:
				return 0
			case 1, 2:
				return size
			case 3:
				return size + 1 + int(v)
			case 4:
				return MaxSize + 1
			}
			return 1 + int(v)*333
		}
		ready := func() {
			b := x.ready()
			for _, d := range b.drops {
				p := byID[d.Peer]
				if p == nil || !p.live {
					t.Fatalf("drop of %v, not live", d.Peer)
				}
				p.live = false
			}
			for _, r := range b.reqs {
				p := byID[r.Peer]
				if p == nil || !p.live || p.size != x.Size() || r.Piece >= peerwire.MetadataPieces(p.size) {
					t.Fatalf("request %+v to %+v while fetching %d", r, p, x.Size())
				}
				p.pending = append(p.pending, r.Piece)
			}
			if b.info != nil && !bytes.Equal(b.info, info) {
				t.Fatal("handed out wrong metadata")
			}
		}
		for len(in) >= 4 {
			op, a, c, v := in[0], in[1], in[2], in[3]
			in = in[4:]
			switch op % 8 {
			case 0:
				s := sizes(v)
				id := x.AddPeer(s)
				if id != NoPeer {
					p := &fp{id: id, size: s, live: true}
					peers = append(peers, p)
					byID[id] = p
				}
			case 1:
				if p := pick(a); p != nil && !p.gone {
					x.PeerGone(p.id)
					p.gone, p.live = true, false
				}
			case 2: // arbitrary data message
				if p := pick(a); p != nil && !p.gone {
					total := p.size
					if v&1 != 0 {
						total = sizes(v >> 1)
					}
					n := peerwire.MetadataPieceLen(total, int(c))
					if v&2 != 0 {
						n = int(v) * 7
					}
					x.Data(p.id, int(c), total, make([]byte, n))
				}
			case 3:
				if p := pick(a); p != nil && !p.gone {
					x.Reject(p.id, int(c))
				}
			case 4:
				x.now += time.Duration(v) * 250 * time.Millisecond
				x.Tick(x.now)
			case 5, 6: // answer a pending request, truly (5) or not (6)
				if p := pick(a); p != nil && !p.gone && len(p.pending) > 0 {
					k := int(c) % len(p.pending)
					piece := p.pending[k]
					p.pending = append(p.pending[:k], p.pending[k+1:]...)
					data := make([]byte, peerwire.MetadataPieceLen(p.size, piece))
					if op%8 == 5 && p.size == size {
						copy(data, pieceOf(info, piece))
					}
					if v%4 == 0 {
						x.Reject(p.id, piece)
					} else {
						x.Data(p.id, piece, p.size, data)
					}
				}
			case 7:
			}
			ready()
		}
	})
}

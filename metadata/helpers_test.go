package metadata

import (
	"crypto/sha1"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/effusion-bt/effusion/peerwire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testInfo returns size pseudo-random bytes standing for an info
// dictionary, and their SHA-1.
func testInfo(size int, seed uint64) ([]byte, [20]byte) {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b, sha1.Sum(b)
}

func pieceOf(info []byte, i int) []byte {
	return info[i*PieceSize : i*PieceSize+peerwire.MetadataPieceLen(len(info), i)]
}

// batch is a copy of a Ready batch, safe to keep.
type batch struct {
	reqs  []Request
	drops []Drop
	info  []byte
}

func (b batch) to(id PeerID) []int {
	var out []int
	for _, r := range b.reqs {
		if r.Peer == id {
			out = append(out, r.Piece)
		}
	}
	return out
}

func (b batch) dropped(id PeerID) (Drop, bool) {
	for _, d := range b.drops {
		if d.Peer == id {
			return d, true
		}
	}
	return Drop{}, false
}

// fx wraps a Fetcher for tests: every Ready checks the invariants.
type fx struct {
	tb testing.TB
	*Fetcher
	now time.Duration
}

func newFx(tb testing.TB, cfg Config) *fx {
	tb.Helper()
	f, err := NewFetcher(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &fx{tb: tb, Fetcher: f}
}

func (x *fx) ready() batch {
	x.tb.Helper()
	rd := x.Ready()
	b := batch{reqs: slices.Clone(rd.Requests), drops: slices.Clone(rd.Drops), info: rd.Info}
	x.check()
	return b
}

func (x *fx) advance(d time.Duration) {
	x.now += d
	x.Tick(x.now)
}

// check verifies the Fetcher's invariants.
func (x *fx) check() {
	tb, f := x.tb, x.Fetcher
	tb.Helper()
	if f.done {
		if f.pieces != nil || f.inflight != nil || f.info == nil {
			tb.Fatal("done but state kept")
		}
		return
	}
	if f.size == 0 {
		return
	}
	count := make([]int, f.n)
	for slot, p := range f.peers {
		if p == nil {
			continue
		}
		if p.id.Slot() != slot {
			tb.Fatalf("peer %v in slot %d", p.id, slot)
		}
		if !p.live {
			if len(p.asked) != 0 || p.pend != nil {
				tb.Fatalf("%v: gone but asked %v", p.id, p.asked)
			}
			continue
		}
		if len(p.asked) > f.cfg.MaxInFlight {
			tb.Fatalf("%v: %d outstanding", p.id, len(p.asked))
		}
		for _, a := range p.asked {
			if a.piece < 0 || a.piece >= f.n || p.size != f.size {
				tb.Fatalf("%v asked piece %d (size %d, fetching %d)", p.id, a.piece, p.size, f.size)
			}
			count[a.piece]++
			if p.pend[a.piece] == 0 {
				tb.Fatalf("%v: piece %d outstanding but not pending", p.id, a.piece)
			}
		}
	}
	nhave := 0
	for i := range f.n {
		if int(f.inflight[i]) != count[i] {
			tb.Fatalf("piece %d: inflight %d, outstanding %d", i, f.inflight[i], count[i])
		}
		if f.have[i] {
			nhave++
			if len(f.pieces[i]) != peerwire.MetadataPieceLen(f.size, i) {
				tb.Fatalf("piece %d of %d bytes", i, len(f.pieces[i]))
			}
			if f.solo && f.src[i] != f.copyFrom {
				tb.Fatalf("solo copy from %v holds piece %d from %v", f.copyFrom, i, f.src[i])
			}
		} else if len(f.pieces[i]) != 0 {
			tb.Fatalf("missing piece %d holds bytes", i)
		}
	}
	if nhave != f.nhave {
		tb.Fatalf("nhave %d, counted %d", f.nhave, nhave)
	}
}

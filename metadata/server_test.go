package metadata

import (
	"bytes"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

func TestServerAnswers(t *testing.T) {
	info, _ := testInfo(2*PieceSize+500, 20)
	s := NewServer(info, ServerConfig{})
	if s.Size() != len(info) {
		t.Fatalf("size %d", s.Size())
	}
	var b Budget
	for i := range 3 {
		r := s.Answer(&b, i, 0)
		if r.Type != peerwire.MetadataData || r.Piece != i || r.TotalSize != len(info) || !bytes.Equal(r.Data, pieceOf(info, i)) || r.Limited {
			t.Fatalf("piece %d: %+v", i, r)
		}
	}
	for _, i := range []int{-1, 3, 1 << 20} {
		if r := s.Answer(&b, i, 0); r.Type != peerwire.MetadataReject || r.Piece != i || r.Limited || r.Data != nil {
			t.Fatalf("piece %d: %+v", i, r)
		}
	}
	// No metadata (or an impossible one): reject everything.
	for _, info := range [][]byte{nil, make([]byte, MaxSize+1)} {
		s := NewServer(info, ServerConfig{})
		if r := s.Answer(&Budget{}, 0, 0); r.Type != peerwire.MetadataReject || s.Size() != 0 {
			t.Fatalf("%+v", r)
		}
	}
}

func TestServerBudget(t *testing.T) {
	info, _ := testInfo(3*PieceSize, 21)
	t.Run("per minute", func(t *testing.T) {
		s := NewServer(info, ServerConfig{PerMinute: 2, Copies: 100})
		var b Budget
		at := 10 * time.Second
		for i := range 2 {
			if r := s.Answer(&b, i, at); r.Type != peerwire.MetadataData {
				t.Fatalf("request %d refused", i)
			}
		}
		if r := s.Answer(&b, 2, at+59*time.Second); r.Type != peerwire.MetadataReject || !r.Limited {
			t.Fatalf("third in the minute: %+v", r)
		}
		if r := s.Answer(&b, 2, at+60*time.Second); r.Type != peerwire.MetadataData {
			t.Fatalf("next minute: %+v", r)
		}
		var other Budget // budgets are per peer
		if r := s.Answer(&other, 0, at); r.Type != peerwire.MetadataData {
			t.Fatal("another peer limited")
		}
	})
	t.Run("twice over", func(t *testing.T) {
		s := NewServer(info, ServerConfig{})
		var b Budget
		now := time.Duration(0)
		for i := range 6 {
			if r := s.Answer(&b, i%3, now); r.Type != peerwire.MetadataData {
				t.Fatalf("request %d refused", i)
			}
			now += time.Hour
		}
		if r := s.Answer(&b, 0, now); r.Type != peerwire.MetadataReject || !r.Limited {
			t.Fatalf("third copy: %+v", r)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		s := NewServer(info, ServerConfig{})
		if s.perMin != 16 || s.maxTotal != 6 {
			t.Fatalf("%+v", s)
		}
		big := NewServer(make([]byte, 100*PieceSize), ServerConfig{})
		if big.perMin != 100 || big.maxTotal != 200 {
			t.Fatalf("%+v", big)
		}
	})
}

func TestCheckSize(t *testing.T) {
	if !CheckSize(0, 5) || !CheckSize(5, 5) || CheckSize(6, 5) {
		t.Fatal("CheckSize")
	}
}

// A Fetcher fed by Servers ends with the served bytes.
func TestFetchFromServers(t *testing.T) {
	info, ih := testInfo(40*PieceSize+7, 22)
	s := NewServer(info, ServerConfig{})
	x := newFx(t, Config{InfoHash: ih, MaxInFlight: 4})
	budgets := map[PeerID]*Budget{}
	for range 3 {
		budgets[x.AddPeer(s.Size())] = &Budget{}
	}
	b := x.ready()
	for len(b.info) == 0 {
		if len(b.reqs) == 0 {
			t.Fatal("stalled")
		}
		for _, r := range b.reqs {
			rep := s.Answer(budgets[r.Peer], r.Piece, x.now)
			if rep.Type == peerwire.MetadataData {
				x.Data(r.Peer, rep.Piece, rep.TotalSize, rep.Data)
			} else {
				x.Reject(r.Peer, rep.Piece)
			}
		}
		b = x.ready()
	}
	if !bytes.Equal(b.info, info) || len(b.drops) != 0 {
		t.Fatalf("drops %v", b.drops)
	}
}

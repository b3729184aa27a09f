package metadata

import (
	"testing"

	"github.com/effusion-bt/effusion/peerwire"
)

// BenchmarkFetch fetches a 1 MiB metadata (64 pieces) from four peers
// answering from a Server, all in memory: the Fetcher's and Server's work
// per fetch, SHA-1 of the whole included.
func BenchmarkFetch(b *testing.B) {
	info, ih := testInfo(1<<20, 30)
	srv := NewServer(info, ServerConfig{Copies: 1 << 30, PerMinute: 1 << 30})
	b.SetBytes(int64(len(info)))
	b.ReportAllocs()
	for b.Loop() {
		f, _ := NewFetcher(Config{InfoHash: ih, MaxInFlight: 4})
		var budgets [5]Budget
		for range 4 {
			f.AddPeer(len(info))
		}
		for {
			rd := f.Ready()
			if rd.Info != nil {
				break
			}
			if len(rd.Requests) == 0 {
				b.Fatal("stalled")
			}
			reqs := append([]Request(nil), rd.Requests...)
			for _, r := range reqs {
				rep := srv.Answer(&budgets[r.Peer.Slot()], r.Piece, 0)
				if rep.Type != peerwire.MetadataData {
					b.Fatal("rejected")
				}
				f.Data(r.Peer, rep.Piece, rep.TotalSize, rep.Data)
			}
		}
	}
}

package session

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
	"golang.org/x/time/rate"
)

// TestUploadRateLimit: with an upload limit of 64 KiB/s (16 KiB burst),
// serving 8 blocks of 16 KiB takes 1.75 s of (virtual) time: the first
// block rides on the burst, the other seven wait 0.25 s each.
func TestUploadRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, remote, _, _ := pipePeer(t, true)
		p.f.up.p.Store(rate.NewLimiter(64<<10, peerwire.BlockSize))
		p.setChoking(false)
		if m := readFrames(t, remote, 1, nil); m[0].ID != peerwire.MsgUnchoke {
			t.Fatalf("got %v", m[0])
		}
		var reqs []byte
		for i := range 8 {
			reqs = peerwire.AppendRequest(reqs, uint32(i%5), 0, peerwire.BlockSize)
		}
		start := time.Now()
		go remote.Write(reqs)
		got := readFrames(t, remote, 8, nil)
		elapsed := time.Since(start)
		for _, m := range got {
			if m.ID != peerwire.MsgPiece {
				t.Fatalf("got %v, want pieces", m)
			}
		}
		if want := 1750 * time.Millisecond; elapsed < want || elapsed > want+100*time.Millisecond {
			t.Fatalf("8 blocks took %v at 64 KiB/s, want %v", elapsed, want)
		}
	})
}

// TestDownloadRateLimit: the reader waits for the download limiter before
// taking each block off the socket.
func TestDownloadRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, remote, sink, _ := pipePeer(t, true)
		p.f.down.p.Store(rate.NewLimiter(32<<10, peerwire.BlockSize))
		var frames []byte
		for i := range 5 {
			frames = peerwire.AppendPiece(frames, uint32(i), 0, make([]byte, peerwire.BlockSize))
		}
		start := time.Now()
		remote.Write(frames)
		remote.Close()
		<-sink.gone
		// 5 blocks at 32 KiB/s with a one-block burst: 4 waits of 0.5 s.
		if elapsed, want := time.Since(start), 2*time.Second; elapsed < want || elapsed > want+100*time.Millisecond {
			t.Fatalf("5 blocks took %v at 32 KiB/s, want %v", elapsed, want)
		}
		if len(sink.blocks) != 5 {
			t.Fatalf("%d blocks delivered, want 5", len(sink.blocks))
		}
	})
}

package client

import (
	"context"
	"io"
	"testing"
)

// BenchmarkReaderSeekRead: a player's first read after a seek, on a
// complete torrent (a seek back to what was played): Seek, then one 64 KiB
// read of verified data, alternating between two places in the file so
// that every read starts in another piece and moves the window.
func BenchmarkReaderSeekRead(b *testing.B) {
	fx := newFixture(b, 8<<20)
	c := seeder(b, fx)
	tt := c.Torrents()[0]
	r, err := tt.NewReader(0)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 64<<10)
	ctx := context.Background()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := r.Seek(int64(i%2)*(4<<20), io.SeekStart); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(readerCtx{ctx, r}, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReaderVerifiedReadAllocs: a read of verified bytes after a seek
// takes the path that cannot wait: no context is set up for it (7
// allocations a read when every read did), only the window's move is
// posted to the session.
func TestReaderVerifiedReadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	fx := newFixture(t, 1<<20)
	c := seeder(t, fx)
	r, err := c.Torrents()[0].NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 64<<10)
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		i++
		if _, err := r.Seek(int64(i%2)*(512<<10), io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("%.1f allocations per seek and read of verified bytes, want at most 2", allocs)
	}
}

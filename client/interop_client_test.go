package client

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
)

// The client against real seeders on loopback: file selection, and many
// torrents behind one port.

// TestInteropFileSelectionFromLibtorrent: a multi-file torrent from a
// libtorrent seeder, with files skipped (one between two wanted ones, so
// that pieces straddle them): the skipped files are never created, the
// wanted ones arrive byte-identical, and the torrent counts as complete.
func TestInteropFileSelectionFromLibtorrent(t *testing.T) {
	// Sizes not multiples of the 32 KiB piece: every boundary straddles.
	fx := newFixture(t, 300_001, 100_003, 250_007, 70_001, 5)
	port, _ := ltSeeder(t, fx, "")
	c := newClient(t, t.TempDir())
	dl := t.TempDir()
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: dl,
		Priorities: []Priority{Normal, Skip, Normal, Skip, High}, // d/a.bin ... d/e.bin
		Peers:      peersOf(port)})
	if err != nil {
		t.Fatal(err)
	}
	await(t, tt)
	sameFiles(t, fx, dl, filepath.Join("d", "b.bin"), filepath.Join("d", "d.bin"))
	st := tt.Stats()
	if st.State != Seeding || st.Left != 0 || st.PiecesHave == st.PiecesTotal {
		t.Fatalf("after the wanted files: %v, left %d, %d/%d pieces", st.State, st.Left, st.PiecesHave, st.PiecesTotal)
	}
	for _, f := range tt.Files() {
		if f.Priority != Skip && f.Completed != f.Length {
			t.Errorf("%s: %d of %d bytes", f.Path, f.Completed, f.Length)
		}
	}
}

// TestInteropManyTorrentsOnePort: 20 torrents in one client, each from its
// own seeder: ten libtorrent seeders that dial the client's one listening
// port (so each incoming connection is routed by its info-hash), and ten
// aria2 seeders that the client dials.
func TestInteropManyTorrentsOnePort(t *testing.T) {
	aria2 := testpeer.Require(t, "aria2c")
	python, script := testpeer.Libtorrent(t)
	c := newClient(t, t.TempDir())
	type job struct {
		fx fixture
		tt *Torrent
		dl string
	}
	jobs := make([]job, 20)
	for i := range jobs {
		fx := newFixture(t, 200_000+i*1001, 30_000+i)
		dl := t.TempDir()
		tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: dl})
		if err != nil {
			t.Fatal(err)
		}
		jobs[i] = job{fx, tt, dl}
	}
	us := fmt.Sprintf("127.0.0.1:%d", c.Addr().Port())
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tpath, _ := torrentFile(t, j.fx, "")
			port := testpeer.FreePort(t)
			if i%2 == 0 {
				// libtorrent dials us; we never learn its address.
				testpeer.Start(t, j.fx.dir, python, script, "seed", tpath, j.fx.dir, strconv.Itoa(port), "--peer", us)
				return
			}
			args := append(testpeer.Aria2Args(port), "--seed-ratio=0.0", "--check-integrity=true", "--dir="+j.fx.dir, tpath)
			a := testpeer.Start(t, j.fx.dir, aria2, args...)
			a.WaitPort(t, port, 60*time.Second)
			j.tt.AddPeers(lp(port))
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for i, j := range jobs {
		if err := j.tt.Await(ctx); err != nil {
			st := j.tt.Stats()
			t.Fatalf("torrent %d: %v (%v, %d/%d pieces, %d peers)", i, err, st.State, st.PiecesHave, st.PiecesTotal, st.Peers)
		}
		sameFiles(t, j.fx, j.dl)
	}
	if n := c.ListenerCounts(); n.Plain+n.Encrypted < 10 {
		t.Fatalf("listener counts %+v: fewer than the ten libtorrent seeders came in", n)
	}
}

func peersOf(ports ...int) []netip.AddrPort {
	out := make([]netip.AddrPort, len(ports))
	for i, p := range ports {
		out[i] = lp(p)
	}
	return out
}

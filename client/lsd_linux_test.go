package client

import (
	"context"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/transport"
)

// TestClientLSD: two hosts (network namespaces joined by a veth pair), no
// tracker, no DHT, no peers given: each client finds the other's torrents
// by local service discovery (BEP 14), and each peer heard reaches the
// torrent it was announced for: both torrents complete. A private torrent
// (BEP 27) on both hosts is never announced and finds no one. The clients
// open their sockets inside their namespaces and dial uTP only (a TCP dial
// would open its socket in the test's own namespace).
func TestClientLSD(t *testing.T) {
	v := testpeer.VethPair(t, "clsd", 214)
	nsA, nsB := v.NsA, v.NsB
	fxA, fxB := newFixture(t, 700_001), newFixture(t, 500_003, 9)
	priv := privateFixture(t, fxA)
	start := func(ns string) *Client {
		var c *Client
		testpeer.InNetns(t, ns, func() {
			var err error
			c, err = New(context.Background(), Config{DataDir: t.TempDir(), ListenAddr: ":0", Logger: quiet(),
				NoDHT: true, Transport: transport.UTP,
				lsdInTests: true, lsdInterval: 2 * time.Second, lsdGap: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
		})
		t.Cleanup(func() { c.Shutdown(context.Background()) })
		return c
	}
	seed := start(nsA)
	if _, ok := seed.LSDStats(); !ok {
		t.Fatal("LSD is off")
	}
	for _, mi := range []*metainfo.MetaInfo{fxA.mi, fxB.mi, priv} {
		tt, err := seed.Add(context.Background(), Spec{Torrent: mi, Dir: map[bool]string{true: fxB.dir, false: fxA.dir}[mi == fxB.mi]})
		if err != nil {
			t.Fatal(err)
		}
		await(t, tt)
	}
	leech := start(nsB)
	dlA, dlB := t.TempDir(), t.TempDir()
	var ts []*Torrent
	for _, sp := range []Spec{{Torrent: fxA.mi, Dir: dlA}, {Torrent: fxB.mi, Dir: dlB}, {Torrent: priv, Dir: t.TempDir()}} {
		tt, err := leech.Add(context.Background(), sp)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tt)
	}
	for _, tt := range ts[:2] {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		err := tt.Await(ctx)
		cancel()
		if err != nil {
			st, _ := leech.LSDStats()
			st2, _ := seed.LSDStats()
			t.Fatalf("%s not found by LSD: %v (leecher LSD %+v, seeder LSD %+v)", tt.Name(), err, st, st2)
		}
	}
	sameFiles(t, fxA, dlA)
	sameFiles(t, fxB, dlB)
	time.Sleep(3 * time.Second) // more than an LSD interval
	if st := ts[2].Stats(); st.Peers != 0 || st.Downloaded != 0 {
		t.Fatalf("the private torrent found a peer: %+v", st)
	}
}

package session

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/transport"
)

// TestPexUTPFlag: peers we are connected to over uTP are told to others
// with PEX's uTP flag (0x04), and peers others tell us with it are
// remembered by the dialer as speaking uTP (dialled over uTP first).
func TestPexUTPFlag(t *testing.T) {
	seedDir := t.TempDir()
	mi, _ := makeTorrent(t, seedDir, "x.bin", 64<<10, "", testFile{data: randomData(51, 600_000)})
	env := utpEnv(t, transport.Both)
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true, Env: env})
	if _, _, err := seeder.Checked(t.Context()); err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), seeder.Addr().Port())

	// A raw peer over TCP that speaks ut_pex.
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hs := peerwire.Handshake{InfoHash: mi.InfoHash, PeerID: [20]byte{'r', 'a', 'w'}}
	hs.SetExtended()
	peerwire.WriteHandshake(c, hs)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := peerwire.ReadHandshake(c); err != nil {
		t.Fatal(err)
	}
	const ourPex = 3
	c.Write(peerwire.AppendExtended(nil, 0, []byte("d1:md6:ut_pexi3ee1:pi7000ee")))
	r := peerwire.NewReader(c, peerwire.ReaderOptions{NumPieces: mi.Info.NumPieces()})
	theirPex := 0
	var px peerwire.Pex
	// What it tells us: one peer with the uTP flag, one without (on
	// loopback: the seeder dials them).
	hinted := netip.MustParseAddrPort("127.9.8.7:6881")
	plain := netip.MustParseAddrPort("127.9.8.6:6881")
	told := false
	// A leecher session connects to the seeder over uTP: PEX must tell the
	// raw peer about it with the uTP flag.
	lenv := utpEnv(t, transport.UTP)
	leecher := startSession(t, Config{Torrent: mi, Dir: t.TempDir(), Env: lenv, Peers: []netip.AddrPort{addr}, DownloadRate: 100 << 10})
	leecherAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), leecher.Addr().Port())
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("no PEX message naming the uTP leecher: %v", err)
		}
		if m.ID != peerwire.MsgExtended {
			continue
		}
		if m.ExtID == 0 {
			h, err := peerwire.ParseExtendedHandshake(m.ExtPayload)
			if err != nil {
				t.Fatal(err)
			}
			theirPex = h.M["ut_pex"]
			if theirPex == 0 {
				t.Fatal("the seeder does not advertise ut_pex")
			}
			if !told {
				told = true
				msg := &peerwire.Pex{Added: []peerwire.PexPeer{{Addr: hinted, Flags: peerwire.PexUTP}, {Addr: plain}}}
				c.Write(peerwire.AppendPex(nil, uint8(theirPex), msg))
			}
			continue
		}
		if m.ExtID != ourPex {
			continue
		}
		if err := peerwire.ParsePex(m.ExtPayload, &px); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(px.Added, func(p peerwire.PexPeer) bool { return p.Addr == leecherAddr })
		if i < 0 {
			continue
		}
		if px.Added[i].Flags&peerwire.PexUTP == 0 {
			t.Fatalf("the uTP leecher told without the uTP flag: %+v", px.Added[i])
		}
		break
	}
	deadline := time.Now().Add(5 * time.Second)
	for !env.dialer.PrefersUTP(hinted) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !env.dialer.PrefersUTP(hinted) || env.dialer.PrefersUTP(plain) {
		t.Fatalf("uTP hints: flagged %v, unflagged %v", env.dialer.PrefersUTP(hinted), env.dialer.PrefersUTP(plain))
	}
}

package session

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/peerwire"
)

// TestPrivateTorrentNoPEX: a private torrent (BEP 27) never offers ut_pex
// in its extension handshake; a public one does.
func TestPrivateTorrentNoPEX(t *testing.T) {
	for _, private := range []bool{false, true} {
		dir := t.TempDir()
		p := filepath.Join(dir, "x.bin")
		if err := os.WriteFile(p, randomData(9, 100_000), 0o644); err != nil {
			t.Fatal(err)
		}
		mi, _, err := metainfo.Build(context.Background(), p, metainfo.BuildOptions{PieceLength: 32 << 10, Private: private})
		if err != nil {
			t.Fatal(err)
		}
		s := startSession(t, Config{Torrent: mi, Dir: dir, Seed: true})
		awaitOrFail(t, s, 10*time.Second)
		rp := dialRaw(t, s, true, mi.Info.NumPieces())
		var h peerwire.ExtendedHandshake
		for {
			m, err := rp.r.ReadMessage()
			if err != nil {
				t.Fatalf("private %v: no extension handshake: %v", private, err)
			}
			if m.ID == peerwire.MsgExtended && m.ExtID == 0 {
				if h, err = peerwire.ParseExtendedHandshake(m.ExtPayload); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		if _, pex := h.M["ut_pex"]; pex == private {
			t.Errorf("private %v: extensions offered %v", private, h.Extensions())
		}
	}
}

// TestPortMessage: with a DHT node in the environment, our handshake sets
// the DHT bit and a peer that sets it gets a PORT message with our node's
// port; the port a peer tells us reaches Env.OnPort with its address.
func TestPortMessage(t *testing.T) {
	got := make(chan netip.AddrPort, 1)
	env := NewEnv(EnvConfig{DHTPort: 7777, OnPort: func(a netip.AddrPort) { got <- a }})
	t.Cleanup(env.Close) // after the session's own cleanup
	dir := t.TempDir()
	mi, _ := makeTorrent(t, dir, "p.bin", 32<<10, "", testFile{data: randomData(5, 100_000)})
	s := startSession(t, Config{Torrent: mi, Dir: dir, Seed: true, Env: env})
	awaitOrFail(t, s, 10*time.Second)
	c, err := net.Dial("tcp", loopback(s).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := peerwire.Handshake{InfoHash: s.InfoHash()}
	copy(h.PeerID[:], "-RAW001-dhtdhtdhtdht")
	h.SetDHT()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := peerwire.WriteHandshake(c, h); err != nil {
		t.Fatal(err)
	}
	theirs, err := peerwire.ReadHandshake(c)
	if err != nil {
		t.Fatal(err)
	}
	if !theirs.SupportsDHT() {
		t.Fatal("our handshake lacks the DHT bit")
	}
	r := peerwire.NewReader(bufio.NewReader(c), peerwire.ReaderOptions{NumPieces: mi.Info.NumPieces()})
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("no PORT message: %v", err)
		}
		if m.ID == peerwire.MsgPort {
			if m.Port != 7777 {
				t.Fatalf("PORT %d, want 7777", m.Port)
			}
			break
		}
	}
	if _, err := c.Write(peerwire.AppendPort(nil, 6000)); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		if a != netip.MustParseAddrPort("127.0.0.1:6000") {
			t.Fatalf("OnPort got %v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnPort never called")
	}
}

// TestMagnetTurnsPrivate: a magnet's session learns with the metadata that
// its torrent is private; from then on its handshakes offer neither PEX,
// metadata exchange nor the DHT.
func TestMagnetTurnsPrivate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.bin")
	if err := os.WriteFile(p, randomData(19, 100_000), 0o644); err != nil {
		t.Fatal(err)
	}
	mi, _, err := metainfo.Build(context.Background(), p, metainfo.BuildOptions{PieceLength: 32 << 10, Private: true})
	if err != nil {
		t.Fatal(err)
	}
	env := NewEnv(EnvConfig{DHTPort: 7777, OnPort: func(netip.AddrPort) {}})
	t.Cleanup(env.Close)
	src, _, _ := metadataPeer(t, mi.InfoHash, len(mi.InfoBytes), mi.InfoBytes)
	s := startSession(t, Config{Magnet: magnetOf(t, mi), Dir: t.TempDir(), Env: env, Peers: []netip.AddrPort{src}})
	select {
	case <-s.InfoReady():
	case <-time.After(20 * time.Second):
		t.Fatalf("no metadata: %+v", s.Stats())
	}
	c, err := net.Dial("tcp", loopback(s).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := peerwire.Handshake{InfoHash: mi.InfoHash}
	copy(h.PeerID[:], "-RAW001-privprivpriv")
	h.SetExtended()
	h.SetDHT()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := peerwire.WriteHandshake(c, h); err != nil {
		t.Fatal(err)
	}
	theirs, err := peerwire.ReadHandshake(c)
	if err != nil {
		t.Fatal(err)
	}
	if theirs.SupportsDHT() {
		t.Error("the DHT bit is set for a private torrent")
	}
	r := peerwire.NewReader(bufio.NewReader(c), peerwire.ReaderOptions{NumPieces: mi.Info.NumPieces()})
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("no extension handshake: %v", err)
		}
		if m.ID == peerwire.MsgPort {
			t.Error("a PORT message for a private torrent")
		}
		if m.ID == peerwire.MsgExtended && m.ExtID == 0 {
			eh, err := peerwire.ParseExtendedHandshake(m.ExtPayload)
			if err != nil {
				t.Fatal(err)
			}
			if len(eh.M) != 0 {
				t.Errorf("extensions offered for a private torrent: %v", eh.Extensions())
			}
			return
		}
	}
}

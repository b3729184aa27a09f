package session

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/transport"
)

// TestSharedListenerRoutesByInfoHash: two torrents seeded on one port; each
// leecher reaches its own torrent's session, and a handshake for an
// unknown torrent is closed.
func TestSharedListenerRoutesByInfoHash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ln, err := transport.Listen(ctx, transport.ListenConfig{Addr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	env := testEnv(t) // closed after the sessions, which stop first
	env.listener = ln
	seedDir := t.TempDir()
	miA, _ := makeTorrent(t, seedDir, "a.bin", 64<<10, "", testFile{data: randomData(31, 700_000)})
	miB, _ := makeTorrent(t, seedDir, "b.bin", 64<<10, "", testFile{data: randomData(32, 900_000)})
	startSession(t, Config{Torrent: miA, Dir: seedDir, Seed: true, Env: env})
	startSession(t, Config{Torrent: miB, Dir: seedDir, Seed: true, Env: env})
	port := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ln.Addr().Port())
	if s, err := Start(ctx, Config{Torrent: miA, Dir: t.TempDir(), Env: env, Logger: testLogger(t)}); err == nil {
		s.Stop(ctx)
		t.Fatal("a second session for the same torrent on one listener started")
	}

	dirA, dirB := t.TempDir(), t.TempDir()
	la := startSession(t, Config{Torrent: miA, Dir: dirA, Peers: []netip.AddrPort{port}})
	lb := startSession(t, Config{Torrent: miB, Dir: dirB, Peers: []netip.AddrPort{port}})
	awaitOrFail(t, la, 30*time.Second)
	awaitOrFail(t, lb, 30*time.Second)
	samePayload(t, miA, seedDir, dirA)
	samePayload(t, miB, seedDir, dirB)

	// A stranger's torrent: the listener hangs up without answering.
	c, err := net.Dial("tcp", port.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := peerwire.Handshake{InfoHash: [20]byte{1, 2, 3}}
	if err := peerwire.WriteHandshake(c, h); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// Closed with the peer id unread: EOF or a reset, never a handshake.
	if n, err := c.Read(make([]byte, 68)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("unknown info-hash: read %d bytes, %v; want the connection closed", n, err)
	}
}

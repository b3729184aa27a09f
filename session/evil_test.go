package session

import (
	"bufio"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/peerwire"
)

// evilPeer is a peer that misbehaves on purpose. It accepts connections,
// handshakes properly, claims every piece, unchokes, and then does one bad
// thing.
type evilPeer struct {
	ln        net.Listener
	mi        *metainfo.MetaInfo
	kind      string
	conns     atomic.Int32 // connections that sent a plain handshake
	hungUp    atomic.Int32 // connections the leecher closed on us
	corrupted atomic.Int32 // blocks of bad data sent
	rejected  atomic.Int32 // rejects received
}

func startEvil(t *testing.T, mi *metainfo.MetaInfo, kind string) *evilPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &evilPeer{ln: ln, mi: mi, kind: kind}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go e.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return e
}

func (e *evilPeer) addr() netip.AddrPort { return netip.MustParseAddrPort(e.ln.Addr().String()) }

func (e *evilPeer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := peerwire.ReadHandshake(c); err != nil {
		return // not a BitTorrent handshake (an MSE attempt: we answer plain only)
	}
	e.conns.Add(1)
	h := peerwire.Handshake{InfoHash: e.mi.InfoHash}
	copy(h.PeerID[:], "-EV0001-"+e.kind)
	h.SetFast()
	peerwire.WriteHandshake(c, h)
	var out []byte
	out = peerwire.AppendSimple(out, peerwire.MsgHaveAll)
	out = peerwire.AppendSimple(out, peerwire.MsgUnchoke)
	c.Write(out)
	rng := rand.New(rand.NewPCG(1, 2))
	switch e.kind {
	case "garbage":
		junk := make([]byte, 4096)
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		c.Write(junk)
	case "unrequested":
		blk := make([]byte, peerwire.BlockSize)
		c.Write(peerwire.AppendPiece(nil, uint32(e.mi.Info.NumPieces()-1), 0, blk[:min(len(blk), int(e.mi.Info.PieceLen(e.mi.Info.NumPieces()-1)))]))
	case "flood":
		var reqs []byte
		for i := range 5000 {
			reqs = peerwire.AppendRequest(reqs, uint32(i%(e.mi.Info.NumPieces()-1)), 0, peerwire.BlockSize)
		}
		go c.Write(reqs)
	}
	// Answer requests: with random bytes for "corrupt", never otherwise
	// (the flood peer just sits there).
	r := peerwire.NewReader(bufio.NewReader(c), peerwire.ReaderOptions{NumPieces: e.mi.Info.NumPieces()})
	for {
		m, err := r.ReadMessage()
		if err != nil {
			if !isTimeout(err) {
				e.hungUp.Add(1) // the leecher closed the connection
			}
			return
		}
		if m.ID == peerwire.MsgReject {
			e.rejected.Add(1)
		}
		if m.ID == peerwire.MsgRequest && e.kind == "corrupt" {
			blk := make([]byte, m.Length)
			for i := range blk {
				blk[i] = byte(rng.Uint32())
			}
			e.corrupted.Add(1)
			if _, err := c.Write(peerwire.AppendPiece(nil, m.Index, m.Begin, blk)); err != nil {
				e.hungUp.Add(1)
				return
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestMisbehavingPeers: garbage frames, corrupt data, a request flood and
// unrequested blocks, next to one honest seeder. The download completes
// from the honest seeder, the offenders are dropped (the corrupt one
// banned: it never gets back in), and only verified data reaches the disk.
func TestMisbehavingPeers(t *testing.T) {
	seedDir, dir := t.TempDir(), t.TempDir()
	data := randomData(5, 2<<20+333)
	mi, _ := makeTorrent(t, seedDir, "payload.bin", 64<<10, "", testFile{data: data})
	evil := map[string]*evilPeer{}
	var peers []netip.AddrPort
	for _, k := range []string{"garbage", "corrupt", "flood", "unrequested"} {
		evil[k] = startEvil(t, mi, k)
		peers = append(peers, evil[k].addr())
	}
	// The evil peers get a head start: the leecher meets them before the
	// honest seeder, so they do get requests.
	leecher := startSession(t, Config{Torrent: mi, Dir: dir, Peers: peers})
	deadline := time.Now().Add(20 * time.Second)
	for evil["corrupt"].corrupted.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if evil["corrupt"].corrupted.Load() == 0 {
		t.Fatal("the corrupt peer was never asked for a block: the test would prove nothing")
	}
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	leecher.AddPeers(loopback(seeder))
	awaitOrFail(t, leecher, 60*time.Second)
	samePayload(t, mi, seedDir, dir)
	for _, k := range []string{"garbage", "corrupt", "unrequested"} {
		if evil[k].hungUp.Load() == 0 {
			t.Errorf("%s peer: never disconnected (%d connections)", k, evil[k].conns.Load())
		}
	}
	if evil["flood"].rejected.Load() == 0 {
		t.Error("flood peer: its requests were not rejected")
	}
	if n := evil["corrupt"].conns.Load(); n != 1 {
		t.Errorf("corrupt peer: %d connections, want 1 (banned after the first)", n)
	}
}

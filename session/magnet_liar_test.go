package session

import (
	"bufio"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// lyingMetadataPeer listens on loopback as a peer that offers ut_metadata
// for mi's info-hash and answers every request with bytes of the right
// length but the wrong content. closed is closed when the other side hangs
// up on it.
func lyingMetadataPeer(t *testing.T, infoHash [20]byte, size int) (addr netip.AddrPort, closed <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	served := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-served })
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			close(done)
			return
		}
		defer c.Close()
		defer close(done)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := peerwire.ReadHandshake(c); err != nil {
			return
		}
		h := peerwire.Handshake{InfoHash: infoHash}
		copy(h.PeerID[:], "-LIAR01-xxxxxxxxxxxx")
		h.SetExtended()
		if err := peerwire.WriteHandshake(c, h); err != nil {
			return
		}
		eh := peerwire.ExtendedHandshake{M: map[string]int{"ut_metadata": 3}, MetadataSize: size, V: "liar"}
		if _, err := c.Write(peerwire.AppendExtended(nil, 0, eh.Marshal())); err != nil {
			return
		}
		var ours int // the id we must send ut_metadata messages with
		r := peerwire.NewReader(bufio.NewReader(c), peerwire.ReaderOptions{NumPieces: 1 << 20})
		for {
			m, err := r.ReadMessage()
			if err != nil {
				return // hung up on
			}
			if m.ID != peerwire.MsgExtended {
				continue
			}
			if m.ExtID == 0 {
				if theirs, err := peerwire.ParseExtendedHandshake(m.ExtPayload); err == nil {
					ours = theirs.M["ut_metadata"]
				}
				continue
			}
			req, err := peerwire.ParseMetadataMsg(m.ExtPayload)
			if err != nil || req.Type != peerwire.MetadataRequest || ours == 0 {
				continue
			}
			junk := make([]byte, peerwire.MetadataPieceLen(size, req.Piece))
			for i := range junk {
				junk[i] = byte(i * 7)
			}
			if _, err := c.Write(peerwire.AppendMetadataData(nil, uint8(ours), req.Piece, size, junk)); err != nil {
				return
			}
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), done
}

// TestMagnetLiarDropped: of two peers offering the metadata, one sends
// garbage; the session finds it out (the whole fails the info-hash, then
// piece by piece from one peer), hangs up on it, and completes from the
// honest one.
func TestMagnetLiarDropped(t *testing.T) {
	seedDir, dir := t.TempDir(), t.TempDir()
	// 1,100 pieces: an info dictionary of two metadata pieces.
	mi, _ := makeTorrent(t, seedDir, "liar.bin", 16<<10, "", testFile{data: randomData(90, 1100*16<<10)})
	if n := peerwire.MetadataPieces(len(mi.InfoBytes)); n < 2 {
		t.Fatalf("%d metadata pieces: the test needs two", n)
	}
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)
	liar, hungUp := lyingMetadataPeer(t, mi.InfoHash, len(mi.InfoBytes))
	// Seed: the leecher stays up once complete, so a hang-up on the liar
	// is its verdict, not the end of the session.
	leecher := startSession(t, Config{Magnet: magnetOf(t, mi), Dir: dir, Seed: true,
		Peers: []netip.AddrPort{liar, loopback(seeder)}})
	awaitOrFail(t, leecher, 60*time.Second)
	samePayload(t, mi, seedDir, dir)
	select {
	case <-hungUp:
	case <-time.After(10 * time.Second):
		t.Fatal("the lying peer is still connected")
	}
}

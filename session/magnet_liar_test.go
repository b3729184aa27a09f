package session

import (
	"bufio"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// lyingMetadataPeer listens on loopback as a peer that offers ut_metadata
// for mi's info-hash and answers every request with bytes of the right
// length but the wrong content. closed is closed when the other side hangs
// up on a connection that got past the handshake.
func lyingMetadataPeer(t *testing.T, infoHash [20]byte, size int) (addr netip.AddrPort, closed <-chan struct{}, asked *atomic.Int32) {
	return metadataPeer(t, infoHash, size, nil)
}

// metadataPeer is lyingMetadataPeer, honest when info (the info
// dictionary) is given.
func metadataPeer(t *testing.T, infoHash [20]byte, size int, info []byte) (addr netip.AddrPort, closed <-chan struct{}, asked *atomic.Int32) {
	asked = new(atomic.Int32)
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	serve := func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := peerwire.ReadHandshake(c); err != nil {
			return // our dialer tries MSE first, then plain on a new connection
		}
		defer once.Do(func() { close(done) })
		h := peerwire.Handshake{InfoHash: infoHash}
		copy(h.PeerID[:], "-META01-xxxxxxxxxxxx")
		h.SetExtended()
		if err := peerwire.WriteHandshake(c, h); err != nil {
			return
		}
		eh := peerwire.ExtendedHandshake{M: map[string]int{"ut_metadata": 3}, MetadataSize: size, V: "metadata peer"}
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
			asked.Add(1)
			data := make([]byte, peerwire.MetadataPieceLen(size, req.Piece))
			if info != nil {
				copy(data, info[req.Piece*peerwire.MetadataPieceSize:])
			} else {
				for i := range data {
					data[i] = byte(i * 7)
				}
			}
			if _, err := c.Write(peerwire.AppendMetadataData(nil, uint8(ours), req.Piece, size, data)); err != nil {
				return
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(c)
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), done, asked
}

// TestMagnetLiarDropped: the first peer offering the metadata sends
// garbage; the session finds it out (the whole fails the info-hash), hangs
// up on it, and completes from an honest peer that comes later.
func TestMagnetLiarDropped(t *testing.T) {
	seedDir, dir := t.TempDir(), t.TempDir()
	// 1,100 pieces: an info dictionary of two metadata pieces.
	mi, _ := makeTorrent(t, seedDir, "liar.bin", 16<<10, "", testFile{data: randomData(90, 1100*16<<10)})
	if n := peerwire.MetadataPieces(len(mi.InfoBytes)); n < 2 {
		t.Fatalf("%d metadata pieces: the test needs two", n)
	}
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)
	liar, hungUp, asked := lyingMetadataPeer(t, mi.InfoHash, len(mi.InfoBytes))
	// Seed: the leecher stays up once complete, so a hang-up on the liar
	// is its verdict, not the end of the session. The liar comes first,
	// alone; the honest seeder once the liar has been asked.
	leecher := startSession(t, Config{Magnet: magnetOf(t, mi), Dir: dir, Seed: true,
		Peers: []netip.AddrPort{liar}})
	for deadline := time.Now().Add(20 * time.Second); asked.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the lying peer was never asked for metadata")
		}
		time.Sleep(5 * time.Millisecond)
	}
	leecher.AddPeers(loopback(seeder))
	awaitOrFail(t, leecher, 60*time.Second)
	samePayload(t, mi, seedDir, dir)
	select {
	case <-hungUp:
	case <-time.After(10 * time.Second):
		t.Fatal("the lying peer is still connected")
	}

}

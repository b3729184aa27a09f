package session

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// rawPeer connects to s as a hand-driven peer: handshake (fast extension
// as asked) done, our greeting still to read.
type rawPeer struct {
	c net.Conn
	r *peerwire.Reader
}

// rawPeers numbers the raw peers' ids.
var rawPeers atomic.Int64

func dialRaw(t *testing.T, s *Session, fast bool, n int) *rawPeer {
	t.Helper()
	c, err := net.Dial("tcp", loopback(s).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := peerwire.Handshake{InfoHash: s.InfoHash()}
	// A peer id of its own: the previous raw peer, dropped, may still be
	// in the session's table until its reader ends, and the same id would
	// make this one a duplicate.
	copy(h.PeerID[:], fmt.Sprintf("-RAW001-%012d", rawPeers.Add(1)))
	if fast {
		h.SetFast()
	}
	h.SetExtended()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := peerwire.WriteHandshake(c, h); err != nil {
		t.Fatal(err)
	}
	if _, err := peerwire.ReadHandshake(c); err != nil {
		t.Fatal(err)
	}
	return &rawPeer{c: c, r: peerwire.NewReader(bufio.NewReader(c), peerwire.ReaderOptions{NumPieces: n})}
}

// hungUp reads until the session closes the connection; false if it is
// still open at the deadline.
func (rp *rawPeer) hungUp() bool {
	rp.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, err := rp.r.ReadMessage(); err != nil {
			return !isTimeout(err)
		}
	}
}

// TestSessionDropsProtocolViolations: the availability and fast-extension
// rules (the core's, no longer the reader's), end to end: each sequence
// gets the connection closed by a real session.
func TestSessionDropsProtocolViolations(t *testing.T) {
	dir := t.TempDir()
	mi, _ := makeTorrent(t, dir, "v.bin", 32<<10, "", testFile{data: randomData(41, 10*(32<<10))})
	s := startSession(t, Config{Torrent: mi, Dir: t.TempDir()})
	if _, _, err := s.Checked(t.Context()); err != nil {
		t.Fatal(err)
	}
	bf := func(b ...byte) []byte { return peerwire.AppendBitfield(nil, b) }
	cases := map[string]struct {
		fast   bool
		frames []byte
	}{
		"bitfield after have":      {false, append(peerwire.AppendHave(nil, 1), bf(0xff, 0xc0)...)},
		"bitfield dropping pieces": {false, append(bf(0xff, 0xc0), bf(0x7f, 0xc0)...)},
		"have all without fast":    {false, peerwire.AppendSimple(nil, peerwire.MsgHaveAll)},
		"reject without fast":      {false, peerwire.AppendReject(nil, 0, 0, 16384)},
		"have none after bitfield": {true, append(bf(0x80, 0), peerwire.AppendSimple(nil, peerwire.MsgHaveNone)...)},
		"suggest without fast":     {false, peerwire.AppendSuggest(nil, 1)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rp := dialRaw(t, s, c.fast, 10)
			rp.c.Write(c.frames)
			if !rp.hungUp() {
				t.Fatal("connection still open")
			}
		})
	}
	t.Run("growing availability is kept", func(t *testing.T) {
		rp := dialRaw(t, s, true, 10)
		var b []byte
		b = peerwire.AppendSimple(b, peerwire.MsgHaveNone)
		b = peerwire.AppendSimple(b, peerwire.MsgInterested)
		b = peerwire.AppendBitfield(b, []byte{0x41, 0x40}) // pieces 1, 7, 9
		b = peerwire.AppendBitfield(b, []byte{0x41, 0x40}) // nothing new
		rp.c.Write(b)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			for _, ps := range s.Stats().PeerStats {
				if ps.Addr == netip.MustParseAddrPort(rp.c.LocalAddr().String()) && ps.Pieces == 3 {
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("peer with pieces 1, 7, 9 not seen: %+v", s.Stats().PeerStats)
	})
}

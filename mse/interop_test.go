package mse

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/peerwire"
)

// libtorrent's encryption settings: policy 0 forced, 1 enabled,
// 2 disabled; allowed_enc_level 1 plaintext, 2 RC4, 3 both.
const (
	ltForced   = `{"out_enc_policy": 0, "in_enc_policy": 0, "allowed_enc_level": 2, "prefer_rc4": true}`
	ltDisabled = `{"out_enc_policy": 2, "in_enc_policy": 2}`
)

// ltSeed is a libtorrent process seeding a small torrent.
type ltSeed struct {
	proc *testpeer.Proc
	addr netip.AddrPort
	mi   *metainfo.MetaInfo
	ours peerwire.Handshake
}

// startLT seeds a 100 kB torrent with libtorrent under the given
// settings; connect, if valid, is dialled by libtorrent once it seeds.
func startLT(t *testing.T, settings string, connect netip.AddrPort) *ltSeed {
	t.Helper()
	python := testpeer.Python(t)
	root := t.TempDir()
	data := make([]byte, 100_000)
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(root, "payload.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, enc, err := metainfo.Build(context.Background(), filepath.Join(root, "payload.bin"), metainfo.BuildOptions{PieceLength: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(t.TempDir(), "p.torrent")
	if err := os.WriteFile(tf, enc, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"testdata/lt_mse.py", tf, root, settings}
	if connect.IsValid() {
		args = append(args, connect.String())
	}
	p := testpeer.Start(t, "", python, args...)
	line := p.WaitLine(t, "PORT ", 60*time.Second)
	port, err := strconv.Atoi(strings.TrimPrefix(line, "PORT "))
	if err != nil {
		t.Fatal(line)
	}
	s := &ltSeed{proc: p, addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), mi: mi}
	s.ours = peerwire.Handshake{InfoHash: mi.InfoHash}
	copy(s.ours.PeerID[:], "-EF0001-msetest00000")
	s.ours.SetExtended()
	s.ours.SetFast()
	return s
}

// waitRC4 waits until libtorrent reports the peer at addr with the RC4
// flag set (a guard time, not a timing assertion).
func (s *ltSeed) waitRC4(t *testing.T, addr string) {
	t.Helper()
	want := "PEER " + addr + " rc4=1"
	for {
		l := s.proc.WaitLine(t, "PEER "+addr, 30*time.Second)
		if strings.HasPrefix(l, want) {
			return
		}
		t.Logf("libtorrent: %s", l)
	}
}

// readUntilHave reads messages until the seed's bitfield or have all.
func readUntilHave(t *testing.T, c io.Reader, numPieces int) {
	t.Helper()
	r := peerwire.NewReader(c, peerwire.ReaderOptions{NumPieces: numPieces})
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("reading libtorrent's messages: %v", err)
		}
		switch m.ID {
		case peerwire.MsgHaveAll:
			return
		case peerwire.MsgBitfield:
			bf, err := peerwire.ParseBitfield(m.Bitfield, numPieces)
			if err != nil || !bf.Complete() {
				t.Fatalf("seed bitfield: %v", err)
			}
			return
		}
	}
}

// TestInteropInitiateLibtorrent: our Initiate to libtorrent with
// encryption forced, then a BitTorrent handshake inside, libtorrent's
// handshake and its bitfield back: the channel works both ways and both
// sides say RC4.
func TestInteropInitiateLibtorrent(t *testing.T) {
	s := startLT(t, ltForced, netip.AddrPort{})
	conn, err := net.Dial("tcp", s.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := testCtx(t)
	c, err := Initiate(ctx, conn, s.mi.InfoHash, RC4|Plaintext, peerwire.AppendHandshake(nil, s.ours))
	if err != nil {
		t.Fatal(err)
	}
	if c.Method() != RC4 {
		t.Fatalf("libtorrent chose %v", c.Method())
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a guard against a hung peer
	theirs, err := peerwire.ReadHandshake(c)
	if err != nil {
		t.Fatal(err)
	}
	if theirs.InfoHash != s.mi.InfoHash {
		t.Fatalf("libtorrent's handshake names %x", theirs.InfoHash)
	}
	readUntilHave(t, c, s.mi.Info.NumPieces())
	s.waitRC4(t, conn.LocalAddr().String())
}

// TestInteropRespondLibtorrent: libtorrent (encryption forced) dials our
// listener; Accept under Require answers MSE, finds the torrent by its
// SKEY hash among decoys, and reads libtorrent's BitTorrent handshake;
// ours goes back encrypted and libtorrent answers with its bitfield.
func TestInteropRespondLibtorrent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	laddr := l.Addr().(*net.TCPAddr).AddrPort()
	s := startLT(t, ltForced, laddr)

	// The client's map: many torrents, one lookup.
	byHash := make(map[[20]byte][20]byte)
	for i := range 1000 {
		var ih [20]byte
		ih[0], ih[1] = byte(i), byte(i>>8)
		byHash[SKeyHash(ih)] = ih
	}
	byHash[SKeyHash(s.mi.InfoHash)] = s.mi.InfoHash
	lookup := func(h [20]byte) ([20]byte, bool) { ih, ok := byHash[h]; return ih, ok }

	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := Accept(testCtx(t), conn, Require, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.Method() != RC4 || c.InfoHash() != s.mi.InfoHash {
		t.Fatalf("method %v torrent %x", c.Method(), c.InfoHash())
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a guard against a hung peer
	theirs, err := peerwire.ReadHandshake(c)
	if err != nil {
		t.Fatal(err)
	}
	if theirs.InfoHash != c.InfoHash() {
		t.Fatalf("handshake for %x after MSE for %x", theirs.InfoHash, c.InfoHash())
	}
	if err := peerwire.WriteHandshake(c, s.ours); err != nil {
		t.Fatal(err)
	}
	readUntilHave(t, c, s.mi.Info.NumPieces())
	s.waitRC4(t, laddr.String())
}

// TestInteropPlainRefused: libtorrent with encryption forced closes a
// plain handshake without answering, which proves the setting above is in
// force; and our Dialer under Off is refused the same way, while Prefer
// gets RC4 on its first attempt.
func TestInteropPlainRefused(t *testing.T) {
	s := startLT(t, ltForced, netip.AddrPort{})
	conn, err := net.Dial("tcp", s.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a guard against a hung peer
	if err := peerwire.WriteHandshake(conn, s.ours); err != nil {
		t.Fatal(err)
	}
	n, err := io.ReadFull(conn, make([]byte, 20))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("forced libtorrent answered a plain handshake: %d bytes, %v", n, err)
	}

	ctx := testCtx(t)
	if c, _, err := (&Dialer{Policy: Off}).Dial(ctx, s.addr, s.ours); err == nil {
		c.Close()
		t.Fatal("Off dialled forced libtorrent")
	}
	var dials int
	d := &Dialer{Policy: Prefer, Transport: countingTransport(&dials)}
	c, theirs, err := d.Dial(ctx, s.addr, s.ours)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Method() != RC4 || theirs.InfoHash != s.mi.InfoHash || dials != 1 {
		t.Fatalf("method %v after %d dials", c.Method(), dials)
	}
}

// TestInteropFallback: libtorrent with encryption disabled refuses MSE;
// our Dialer under Prefer falls back to plain on a second connection and
// remembers it, under Require it fails.
func TestInteropFallback(t *testing.T) {
	s := startLT(t, ltDisabled, netip.AddrPort{})
	ctx := testCtx(t)
	if c, _, err := (&Dialer{Policy: Require}).Dial(ctx, s.addr, s.ours); err == nil {
		c.Close()
		t.Fatal("Require dialled libtorrent with encryption disabled")
	} else {
		t.Log(err)
	}
	var dials int
	var mem Memory
	d := &Dialer{Policy: Prefer, Memory: &mem, Transport: countingTransport(&dials)}
	c, theirs, err := d.Dial(ctx, s.addr, s.ours)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Method() != None || theirs.InfoHash != s.mi.InfoHash || dials != 2 || !mem.PlainOnly(s.addr) {
		t.Fatalf("method %v after %d dials, remembered %v", c.Method(), dials, mem.PlainOnly(s.addr))
	}
	readUntilHave(t, c, s.mi.Info.NumPieces())
}

func countingTransport(n *int) func(context.Context, netip.AddrPort) (net.Conn, error) {
	return func(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
		*n++
		return dialTCP(ctx, a)
	}
}

package utp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
)

// startLibtorrent runs testdata/lt_utp.py (libtorrent with uTP only,
// seeding a 4 MiB torrent) and returns it with its port and info-hash.
func startLibtorrent(t *testing.T, peer string) (*testpeer.Proc, int, []byte) {
	t.Helper()
	py := testpeer.Python(t)
	args := []string{"testdata/lt_utp.py", t.TempDir()}
	if peer != "" {
		args = append(args, peer)
	}
	p := testpeer.Start(t, "", py, args...)
	var port int
	if _, err := fmt.Sscanf(p.WaitLine(t, "PORT ", 60*time.Second), "PORT %d", &port); err != nil {
		t.Fatal(err)
	}
	ih, err := hex.DecodeString(strings.TrimPrefix(p.WaitLine(t, "IH ", 10*time.Second), "IH "))
	if err != nil || len(ih) != 20 {
		t.Fatalf("info-hash: %v", err)
	}
	return p, port, ih
}

func handshake(ih []byte) []byte {
	hs := append([]byte("\x13BitTorrent protocol"), make([]byte, 8)...)
	hs = append(hs, ih...)
	return append(hs, "-EF0001-utpinteropxx"...)
}

// readMsg reads one peer-wire message (id, payload); keep-alives are skipped.
func readMsg(t *testing.T, c net.Conn) (byte, []byte) {
	t.Helper()
	for {
		var l [4]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			t.Fatal("read message length:", err)
		}
		n := binary.BigEndian.Uint32(l[:])
		if n == 0 {
			continue
		}
		if n > 1<<20 {
			t.Fatalf("message of %d bytes", n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal("read message:", err)
		}
		return b[0], b[1:]
	}
}

func payloadByte(i int) byte { return byte((i * 7) % 251) }

// Our Socket dials a uTP-only libtorrent seeder, does the BitTorrent
// handshake, reads its bitfield and downloads blocks byte-verified;
// libtorrent lists the connection as uTP (peer flag 1<<17).
func TestInteropDialLibtorrent(t *testing.T) {
	lt, port, ih := startLibtorrent(t, "")
	s, err := Listen("udp4", "127.0.0.1:0", Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.Dial(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal("dial libtorrent over uTP:", err)
	}
	defer c.Close()
	download(t, c, ih)
	line := lt.WaitLine(t, "PEER ", 10*time.Second)
	if !strings.Contains(line, "utp=True") {
		t.Fatalf("libtorrent sees %q, want a uTP peer", line)
	}
	t.Logf("1 MiB verified over uTP; libtorrent: %s; stats %+v", line, c.(*Conn).Stats())
}

// A uTP-only libtorrent dials our Socket (connect_peer): we accept the
// connection and read its BitTorrent handshake; libtorrent lists it as uTP.
func TestInteropLibtorrentDials(t *testing.T) {
	s, err := Listen("udp4", "127.0.0.1:0", Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lt, _, ih := startLibtorrent(t, s.Addr().String())
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := s.Accept()
		ch <- res{c, err}
	}()
	var c net.Conn
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		c = r.c
	case <-time.After(30 * time.Second):
		t.Fatal("libtorrent did not connect over uTP")
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	hs := make([]byte, 68)
	if _, err := io.ReadFull(c, hs); err != nil {
		t.Fatal("read handshake:", err)
	}
	if string(hs[1:20]) != "BitTorrent protocol" || !bytes.Equal(hs[28:48], ih) {
		t.Fatalf("handshake %q", hs)
	}
	if _, err := c.Write(handshake(ih)); err != nil {
		t.Fatal(err)
	}
	// A leecher's empty bitfield would do; libtorrent then sends its own.
	c.Write([]byte{0, 0, 0, 3, 5, 0, 0})
	var bitfield []byte
	for bitfield == nil {
		id, body := readMsg(t, c)
		if id == 5 {
			bitfield = body
		}
	}
	line := lt.WaitLine(t, "PEER ", 10*time.Second)
	if !strings.Contains(line, "utp=True") {
		t.Fatalf("libtorrent sees %q, want a uTP peer", line)
	}
	t.Logf("accepted libtorrent over uTP, handshake and bitfield read; libtorrent: %s", line)
}

// download does the BitTorrent handshake over c, reads the seeder's
// bitfield (16 pieces of the lt_utp.py payload), and downloads and verifies
// the first 64 blocks.
func download(t *testing.T, c net.Conn, ih []byte) {
	t.Helper()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(handshake(ih)); err != nil {
		t.Fatal(err)
	}
	hs := make([]byte, 68)
	if _, err := io.ReadFull(c, hs); err != nil {
		t.Fatal("read handshake:", err)
	}
	if string(hs[1:20]) != "BitTorrent protocol" || !bytes.Equal(hs[28:48], ih) {
		t.Fatalf("handshake %q", hs)
	}
	var bitfield []byte
	for bitfield == nil {
		id, body := readMsg(t, c)
		if id == 5 {
			bitfield = body
		}
	}
	if len(bitfield) != 2 || bitfield[0] != 0xff || bitfield[1] != 0xff {
		t.Fatalf("bitfield %x, want 16 pieces", bitfield)
	}
	fetchBlocks(t, c)
}

// fetchBlocks declares interest, waits for the unchoke, and downloads and
// verifies the first 64 blocks of the lt_utp.py payload.
func fetchBlocks(t *testing.T, c net.Conn) {
	t.Helper()
	c.Write([]byte{0, 0, 0, 1, 2}) // interested
	for {
		id, _ := readMsg(t, c)
		if id == 1 { // unchoke
			break
		}
	}
	// Request the first 64 blocks (4 pieces of 16 blocks) and verify them.
	const block = 16 << 10
	for i := 0; i < 64; i++ {
		req := make([]byte, 17)
		binary.BigEndian.PutUint32(req, 13)
		req[4] = 6
		binary.BigEndian.PutUint32(req[5:], uint32(i/16))
		binary.BigEndian.PutUint32(req[9:], uint32(i%16*block))
		binary.BigEndian.PutUint32(req[13:], block)
		c.Write(req)
	}
	got := 0
	for got < 64 {
		id, body := readMsg(t, c)
		if id != 7 {
			continue
		}
		piece, begin := binary.BigEndian.Uint32(body), binary.BigEndian.Uint32(body[4:])
		data := body[8:]
		off := int(piece)*256<<10 + int(begin)
		for j, b := range data {
			if b != payloadByte(off+j) {
				t.Fatalf("piece %d begin %d byte %d differs", piece, begin, j)
			}
		}
		got++
	}
}

// Transmission (libutp inside) seeds over uTP: our Socket dials it,
// handshakes, reads its bitfield and downloads blocks byte-verified.
// (Transmission never dials loopback peers it learns of, so only this
// direction is tested.)
func TestInteropDialTransmission(t *testing.T) {
	bin := testpeer.Require(t, "transmission-cli")
	py := testpeer.Python(t)
	dir := t.TempDir()
	out, err := exec.Command(py, "testdata/lt_utp.py", dir, "make").CombinedOutput()
	if err != nil {
		t.Fatalf("making the torrent: %v: %s", err, out)
	}
	ih, err := hex.DecodeString(strings.TrimSpace(strings.TrimPrefix(string(out), "IH ")))
	if err != nil || len(ih) != 20 {
		t.Fatalf("info-hash %q", out)
	}
	cfg := filepath.Join(t.TempDir(), "cfg")
	os.MkdirAll(cfg, 0o755)
	// Loopback only: no DHT, LPD, PEX or port mapping; uTP on.
	settings := `{"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
		"port-forwarding-enabled": false, "utp-enabled": true, "bind-address-ipv4": "127.0.0.1"}`
	if err := os.WriteFile(filepath.Join(cfg, "settings.json"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	port := testpeer.FreePort(t)
	seeder := testpeer.Start(t, dir, bin, "-g", cfg, "-w", dir, "-p", strconv.Itoa(port), "-D", "-U", "-M", "-et",
		filepath.Join(dir, "payload.torrent"))
	seeder.WaitPort(t, port, 30*time.Second)
	s, err := Listen("udp4", "127.0.0.1:0", Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Transmission seeds once its check of the data is done: retry until
	// its handshake comes with a full bitfield, then download on that
	// connection (it drops a second connection with the same peer id).
	deadline := time.Now().Add(30 * time.Second)
	var c net.Conn
	for c == nil {
		d, err := s.Dial(fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			if tryBitfield(d, ih) {
				c = d
				break
			}
			d.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("Transmission did not seed over uTP: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fetchBlocks(t, c)
	t.Logf("1 MiB verified from Transmission over uTP; stats %+v", c.(*Conn).Stats())
}

// tryBitfield handshakes and reports whether the peer's first message is a
// full 16-piece bitfield.
func tryBitfield(c net.Conn, ih []byte) bool {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(handshake(ih)); err != nil {
		return false
	}
	hs := make([]byte, 68)
	if _, err := io.ReadFull(c, hs); err != nil {
		return false
	}
	var l [4]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return false
	}
	n := binary.BigEndian.Uint32(l[:])
	if n != 3 {
		return false
	}
	b := make([]byte, 3)
	if _, err := io.ReadFull(c, b); err != nil {
		return false
	}
	return b[0] == 5 && b[1] == 0xff && b[2] == 0xff
}

package session

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/peerwire"
)

// fakeDHT records the nodes the peer wire hands it.
type fakeDHT struct {
	port  uint16
	mu    sync.Mutex
	added []netip.AddrPort
}

func (d *fakeDHT) AddNode(a netip.AddrPort) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.added = append(d.added, a)
	return nil
}

func (d *fakeDHT) nodes() []netip.AddrPort {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.added)
}

// privateTorrent is a one-piece torrent with "private": 1 (BEP 27) whose
// data it writes under dir.
func privateTorrent(t *testing.T, dir string, data []byte) *metainfo.MetaInfo {
	t.Helper()
	mi, _ := makeTorrent(t, dir, "p.bin", 1<<20, "", testFile{data: data})
	type privInfo struct {
		Length      int64  `bencode:"length"`
		Name        string `bencode:"name"`
		PieceLength int64  `bencode:"piece length"`
		Pieces      []byte `bencode:"pieces"`
		Private     int64  `bencode:"private"`
	}
	var pieces []byte
	for _, h := range mi.Info.Pieces {
		pieces = append(pieces, h[:]...)
	}
	ib, err := bencode.Marshal(privInfo{Length: int64(len(data)), Name: "p.bin", PieceLength: 1 << 20, Pieces: pieces, Private: 1})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := bencode.Marshal(torrentDict{Info: ib})
	if err != nil {
		t.Fatal(err)
	}
	pmi, err := metainfo.Parse(tb)
	if err != nil || !pmi.Info.Private {
		t.Fatalf("private torrent: %v", err)
	}
	return pmi
}

// TestPortMessageFirstAndPublicOnly (BEP 5): with a DHT, our handshake sets the DHT bit and a
// peer that sets it gets our PORT after the bitfield; the first PORT it
// sends reaches the DHT with the peer's IP, later ones and port 0 do not. A
// private torrent (BEP 27) does none of it.
func TestPortMessageFirstAndPublicOnly(t *testing.T) {
	for _, private := range []bool{false, true} {
		t.Run(map[bool]string{false: "public", true: "private"}[private], func(t *testing.T) {
			dir := t.TempDir()
			data := randomData(7, 100_000)
			var mi *metainfo.MetaInfo
			if private {
				mi = privateTorrent(t, dir, data)
			} else {
				mi, _ = makeTorrent(t, dir, "p.bin", 1<<20, "", testFile{data: data})
			}
			fd := &fakeDHT{port: 6999}
			env := NewEnv(EnvConfig{DHTPort: fd.port, OnPort: func(a netip.AddrPort) { fd.AddNode(a) }})
			t.Cleanup(env.Close)
			s := startSession(t, Config{Torrent: mi, Dir: dir, Env: env, Seed: true})
			if _, _, err := s.Checked(t.Context()); err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("tcp", loopback(s).String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			hs := peerwire.Handshake{InfoHash: mi.InfoHash, PeerID: [20]byte{'p', 'e', 'e', 'r'}}
			hs.SetDHT()
			if err := peerwire.WriteHandshake(c, hs); err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			theirs, err := peerwire.ReadHandshake(c)
			if err != nil {
				t.Fatal(err)
			}
			if theirs.SupportsDHT() == private {
				t.Fatalf("DHT bit %v in a %s torrent's handshake", theirs.SupportsDHT(), t.Name())
			}
			// What the session sends first: the bitfield, then (public) PORT.
			r := peerwire.NewReader(c, peerwire.ReaderOptions{NumPieces: mi.Info.NumPieces()})
			c.SetDeadline(time.Now().Add(time.Second))
			var ids []peerwire.MessageID
			var port uint16
			for {
				m, err := r.ReadMessage()
				if err != nil {
					break // the deadline: nothing more is coming
				}
				ids = append(ids, m.ID)
				if m.ID == peerwire.MsgPort {
					port = m.Port
				}
			}
			if len(ids) == 0 || ids[0] != peerwire.MsgBitfield {
				t.Fatalf("first messages %v, want the bitfield first", ids)
			}
			if private && slices.Contains(ids, peerwire.MsgPort) || !private && port != fd.port {
				t.Fatalf("messages %v, PORT %d", ids, port)
			}
			c.SetDeadline(time.Time{})
			var out []byte
			for _, p := range []uint16{0, 4321, 9999} {
				out = peerwire.AppendPort(out, p)
			}
			if _, err := c.Write(out); err != nil {
				t.Fatal(err)
			}
			want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4321")}
			if private {
				want = nil
			}
			deadline := time.Now().Add(5 * time.Second)
			for !slices.Equal(fd.nodes(), want) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			if got := fd.nodes(); !slices.Equal(got, want) {
				t.Fatalf("DHT given %v, want %v", got, want)
			}
		})
	}
}

// TestPortNotSentWithoutDHTBit: a peer that did not set the DHT bit gets no
// PORT.
func TestPortNotSentWithoutDHTBit(t *testing.T) {
	dir := t.TempDir()
	mi, _ := makeTorrent(t, dir, "p.bin", 1<<20, "", testFile{data: randomData(8, 50_000)})
	env := NewEnv(EnvConfig{DHTPort: 6999, OnPort: func(netip.AddrPort) {}})
	t.Cleanup(env.Close)
	s := startSession(t, Config{Torrent: mi, Dir: dir, Env: env, Seed: true})
	if _, _, err := s.Checked(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", loopback(s).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := peerwire.WriteHandshake(c, peerwire.Handshake{InfoHash: mi.InfoHash, PeerID: [20]byte{'q'}}); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := peerwire.ReadHandshake(c); err != nil {
		t.Fatal(err)
	}
	r := peerwire.NewReader(c, peerwire.ReaderOptions{NumPieces: mi.Info.NumPieces()})
	for {
		m, err := r.ReadMessage()
		if err != nil {
			break
		}
		if m.ID == peerwire.MsgPort {
			t.Fatal("PORT sent to a peer without the DHT bit")
		}
	}
}

package peerwire

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
)

// TestInteropLibtorrent speaks the codec to a real libtorrent seed on
// loopback: handshake with reserved bits, extended handshake both ways,
// have all/bitfield, unchoke, and a requested block read into our buffer.
func TestInteropLibtorrent(t *testing.T) {
	python := testpeer.Python(t)
	root := t.TempDir()
	data := make([]byte, 100_000)
	rng := rand.New(rand.NewPCG(7, 7))
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

	// The script seeds until its stdin closes (at cleanup).
	seed := testpeer.Start(t, "", python, "testdata/lt_seed.py", tf, root)
	line := seed.WaitLine(t, "PORT ", 60*time.Second)
	conn, err := net.Dial("tcp", "127.0.0.1:"+strings.TrimPrefix(line, "PORT "))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a guard against a hung peer, not a timing

	ours := Handshake{InfoHash: mi.InfoHash}
	copy(ours.PeerID[:], "-EF0001-interoptest0")
	ours.SetExtended()
	ours.SetFast()
	if err := WriteHandshake(conn, ours); err != nil {
		t.Fatal(err)
	}
	theirs, err := ReadHandshake(conn)
	if err != nil {
		t.Fatal(err)
	}
	if theirs.InfoHash != mi.InfoHash || !theirs.SupportsExtended() || !theirs.SupportsFast() {
		t.Fatalf("libtorrent handshake %+v", theirs)
	}

	w := NewWriter(conn)
	ext := ExtendedHandshake{M: map[string]int{"ut_metadata": 3}, V: "effusion-test", Reqq: 16}
	w.Queue(Message{ID: MsgExtended, ExtID: 0, ExtPayload: ext.Marshal()})
	w.Queue(Message{ID: MsgInterested})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	r := NewReader(conn, ReaderOptions{NumPieces: mi.Info.NumPieces()})
	var gotExt, gotHave, requested bool
	block := make([]byte, BlockSize)
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("reading from libtorrent (ext %v have %v requested %v): %v", gotExt, gotHave, requested, err)
		}
		switch m.ID {
		case MsgExtended:
			if m.ExtID != 0 {
				continue
			}
			h, err := ParseExtendedHandshake(m.ExtPayload)
			if err != nil {
				t.Fatalf("libtorrent's extended handshake: %v\n%q", err, m.ExtPayload)
			}
			if h.M["ut_metadata"] == 0 || h.MetadataSize != len(mi.InfoBytes) || h.V == "" {
				t.Fatalf("extended handshake %+v (info is %d bytes)", h, len(mi.InfoBytes))
			}
			gotExt = true
		case MsgHaveAll:
			gotHave = true
		case MsgBitfield:
			bf, err := ParseBitfield(m.Bitfield, mi.Info.NumPieces())
			if err != nil || !bf.Complete() {
				t.Fatalf("seed bitfield: %v", err)
			}
			gotHave = true
		case MsgUnchoke:
			if !requested {
				w.QueueRequest(1, BlockSize, BlockSize)
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				requested = true
			}
		case MsgPiece:
			if m.Index != 1 || m.Begin != BlockSize || m.Length != BlockSize {
				t.Fatalf("piece %+v", m)
			}
			if err := r.ReadPayload(block); err != nil {
				t.Fatal(err)
			}
			off := 32<<10 + BlockSize
			if !bytes.Equal(block, data[off:off+BlockSize]) {
				t.Fatal("block content differs")
			}
			if !gotExt || !gotHave {
				t.Fatalf("block before extended handshake (%v) or have (%v)", gotExt, gotHave)
			}
			return
		case MsgReject:
			t.Fatalf("libtorrent rejected our request %+v", m)
		}
	}
}

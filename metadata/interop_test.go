package metadata

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/peerwire"
)

// bigTorrent builds a torrent of 40 MiB of zeros (a sparse file) in 16 KiB
// pieces: 2560 pieces, so its info dictionary spans four metadata pieces,
// the last one short.
func bigTorrent(t *testing.T) (mi *metainfo.MetaInfo, torrentFile, dir string) {
	t.Helper()
	dir = t.TempDir()
	p := filepath.Join(dir, "zeros.bin")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 40<<20); err != nil {
		t.Fatal(err)
	}
	mi, enc, err := metainfo.Build(context.Background(), p, metainfo.BuildOptions{PieceLength: 16 << 10, NoDate: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := peerwire.MetadataPieces(len(mi.InfoBytes)); n != 4 || len(mi.InfoBytes)%PieceSize == 0 {
		t.Fatalf("info of %d bytes", len(mi.InfoBytes))
	}
	torrentFile = filepath.Join(t.TempDir(), "zeros.torrent")
	if err := os.WriteFile(torrentFile, enc, 0o644); err != nil {
		t.Fatal(err)
	}
	return mi, torrentFile, dir
}

func handshake(ih [20]byte) peerwire.Handshake {
	h := peerwire.Handshake{InfoHash: ih}
	copy(h.PeerID[:], "-EF0001-metadatatest")
	h.SetExtended()
	return h
}

// TestInteropFetchFromLibtorrent fetches the info dictionary from a real
// libtorrent seed with a Fetcher, through the peerwire codecs: libtorrent's
// handshake announces ut_metadata and metadata_size, its data messages
// parse, and the fetched bytes are the torrent's info.
func TestInteropFetchFromLibtorrent(t *testing.T) {
	python := testpeer.Python(t)
	mi, tf, dir := bigTorrent(t)
	lt := testpeer.Start(t, "", python, "testdata/lt_peer.py", "seed", tf, dir)
	port := strings.TrimPrefix(lt.WaitLine(t, "PORT ", 90*time.Second), "PORT ")
	conn, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second)) // a guard against a hung peer, not a timing

	if err := peerwire.WriteHandshake(conn, handshake(mi.InfoHash)); err != nil {
		t.Fatal(err)
	}
	if h, err := peerwire.ReadHandshake(conn); err != nil || h.InfoHash != mi.InfoHash || !h.SupportsExtended() {
		t.Fatalf("handshake %+v %v", h, err)
	}
	const ourUTMetadata = 3
	ours := peerwire.ExtendedHandshake{M: map[string]int{"ut_metadata": ourUTMetadata}, V: "effusion-test"}
	if _, err := conn.Write(peerwire.AppendExtended(nil, 0, ours.Marshal())); err != nil {
		t.Fatal(err)
	}

	f, err := NewFetcher(Config{InfoHash: mi.InfoHash})
	if err != nil {
		t.Fatal(err)
	}
	var id PeerID
	var theirID uint8
	r := peerwire.NewReader(conn, peerwire.ReaderOptions{})
	start := time.Now()
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("reading from libtorrent: %v", err)
		}
		if m.ID != peerwire.MsgExtended {
			continue
		}
		switch m.ExtID {
		case 0:
			h, err := peerwire.ParseExtendedHandshake(m.ExtPayload)
			if err != nil || h.M["ut_metadata"] == 0 || h.MetadataSize != len(mi.InfoBytes) {
				t.Fatalf("libtorrent's extended handshake %+v: %v", h, err)
			}
			theirID = uint8(h.M["ut_metadata"])
			id = f.AddPeer(h.MetadataSize)
		case ourUTMetadata:
			msg, err := peerwire.ParseMetadataMsg(m.ExtPayload)
			if err != nil {
				t.Fatalf("libtorrent's ut_metadata message: %v", err)
			}
			switch msg.Type {
			case peerwire.MetadataData:
				f.Data(id, msg.Piece, msg.TotalSize, msg.Data)
			case peerwire.MetadataReject:
				t.Fatalf("libtorrent rejected piece %d", msg.Piece)
			}
		}
		f.Tick(time.Since(start))
		rd := f.Ready()
		for _, d := range rd.Drops {
			t.Fatalf("libtorrent dropped: %v", d.Reason)
		}
		if rd.Info != nil {
			if !bytes.Equal(rd.Info, mi.InfoBytes) {
				t.Fatal("fetched bytes differ from the torrent's info")
			}
			if _, err := (&metainfo.Magnet{InfoHash: mi.InfoHash, HasV1: true}).MetaInfo(rd.Info); err != nil {
				t.Fatal(err)
			}
			return
		}
		var out []byte
		for _, q := range rd.Requests {
			out = peerwire.AppendMetadataRequest(out, theirID, q.Piece)
		}
		if _, err := conn.Write(out); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInteropServeToLibtorrent has a real libtorrent fetch the metadata of
// a magnet link from a Server: our peer (its address in x.pe) answers
// libtorrent's ut_metadata requests; libtorrent checks the SHA-1 itself
// and reports the torrent's name and piece count.
func TestInteropServeToLibtorrent(t *testing.T) {
	python := testpeer.Python(t)
	mi, _, _ := bigTorrent(t)
	srv := NewServer(mi.InfoBytes, ServerConfig{})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	served := make(chan error, 8)
	wg.Add(1)
	go func() { // accept loop: libtorrent may connect more than once
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				served <- serveMetadata(c, mi.InfoHash, srv)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})

	mg := metainfo.Magnet{InfoHash: mi.InfoHash, HasV1: true, Peers: []string{ln.Addr().String()}}
	lt := testpeer.Start(t, "", python, "testdata/lt_peer.py", "magnet", mg.String(), t.TempDir())
	lt.WaitLine(t, "PORT ", 60*time.Second)
	line := lt.WaitLine(t, "METADATA ", 90*time.Second)
	want := fmt.Sprintf("METADATA %s %d %s", mi.Info.Name, mi.Info.NumPieces(), hex.EncodeToString(mi.InfoHash[:]))
	if line != want {
		t.Fatalf("libtorrent: %q, want %q", line, want)
	}
	select {
	case err := <-served:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			t.Logf("serving connection ended: %v", err)
		}
	default:
	}
}

// serveMetadata plays a peer that has only the metadata: it answers the
// handshake, announces ut_metadata and metadata_size, and answers
// ut_metadata requests from srv until the connection ends.
func serveMetadata(c net.Conn, ih [20]byte, srv *Server) error {
	c.SetDeadline(time.Now().Add(120 * time.Second)) // a guard, not a timing
	theirs, err := peerwire.ReadHandshake(c)
	if err != nil {
		return err
	}
	if theirs.InfoHash != ih || !theirs.SupportsExtended() {
		return fmt.Errorf("handshake %+v", theirs)
	}
	if err := peerwire.WriteHandshake(c, handshake(ih)); err != nil {
		return err
	}
	const ourUTMetadata = 2
	ext := peerwire.ExtendedHandshake{M: map[string]int{"ut_metadata": ourUTMetadata}, MetadataSize: srv.Size(), V: "effusion-test"}
	if _, err := c.Write(peerwire.AppendExtended(nil, 0, ext.Marshal())); err != nil {
		return err
	}
	var theirID uint8
	var budget Budget
	start := time.Now()
	r := peerwire.NewReader(c, peerwire.ReaderOptions{})
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return err
		}
		if m.ID != peerwire.MsgExtended {
			continue
		}
		switch m.ExtID {
		case 0:
			h, err := peerwire.ParseExtendedHandshake(m.ExtPayload)
			if err != nil {
				return err
			}
			theirID = uint8(h.M["ut_metadata"])
		case ourUTMetadata:
			req, err := peerwire.ParseMetadataMsg(m.ExtPayload)
			if err != nil {
				return err
			}
			if req.Type != peerwire.MetadataRequest || theirID == 0 {
				return fmt.Errorf("unexpected %v", req.Type)
			}
			rep := srv.Answer(&budget, req.Piece, time.Since(start))
			var out []byte
			if rep.Type == peerwire.MetadataData {
				out = peerwire.AppendMetadataDataHeader(nil, theirID, rep.Piece, rep.TotalSize, len(rep.Data))
				out = append(out, rep.Data...)
			} else {
				out = peerwire.AppendMetadataReject(nil, theirID, rep.Piece)
			}
			if _, err := c.Write(out); err != nil {
				return err
			}
		}
	}
}

package peerwire

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWriterBatchesAndWritesPiece(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	w.Queue(Message{ID: MsgUnchoke})
	w.QueueHave(3)
	w.QueueRequest(1, 2, 3)
	if out.Len() != 0 || w.Buffered() != 5+9+17 {
		t.Fatalf("queue wrote early: out %d buffered %d", out.Len(), w.Buffered())
	}
	block := []byte("0123456789")
	if err := w.WritePiece(4, 16, block); err != nil {
		t.Fatal(err)
	}
	want := cat(AppendSimple(nil, MsgUnchoke), AppendHave(nil, 3), AppendRequest(nil, 1, 2, 3), AppendPiece(nil, 4, 16, block))
	if !bytes.Equal(out.Bytes(), want) || w.Buffered() != 0 {
		t.Fatalf("wrote % x\nwant % x", out.Bytes(), want)
	}
	out.Reset()
	w.Queue(Message{ID: MsgKeepAlive})
	if err := w.Flush(); err != nil || !bytes.Equal(out.Bytes(), []byte{0, 0, 0, 0}) {
		t.Fatalf("flush: %v % x", err, out.Bytes())
	}
	if err := w.Flush(); err != nil || out.Len() != 4 {
		t.Fatal("empty flush wrote")
	}
}

// Over a real TCP connection net.Buffers takes the writev path; the peer
// must see exactly the frames, in order.
func TestWriterOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 64
	blocks := make([][]byte, n)
	for i := range blocks {
		blocks[i] = bytes.Repeat([]byte{byte(i)}, BlockSize)
	}
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		w := NewWriter(c)
		for i, b := range blocks {
			w.QueueHave(uint32(i))
			if err := w.WritePiece(uint32(i), 0, b); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := NewReader(c, ReaderOptions{NumPieces: n})
	dst := make([]byte, BlockSize)
	for i := range n {
		m, err := r.ReadMessage()
		if err != nil || m.ID != MsgHave || m.Index != uint32(i) {
			t.Fatalf("have %d: %+v %v", i, m, err)
		}
		m, err = r.ReadMessage()
		if err != nil || m.ID != MsgPiece || m.Index != uint32(i) || m.Length != BlockSize {
			t.Fatalf("piece %d: %+v %v", i, m, err)
		}
		if err := r.ReadPayload(dst); err != nil || !bytes.Equal(dst, blocks[i]) {
			t.Fatalf("block %d: %v", i, err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatalf("after close: %v", err)
	}
}

// The test vector of BEP 6.
func TestAllowedFastSetBEP6Vector(t *testing.T) {
	var ih [20]byte
	for i := range ih {
		ih[i] = 0xaa
	}
	ip := netip.MustParseAddr("80.4.4.200")
	got7 := AllowedFastSet(ip, ih, 1313, 7)
	want7 := []uint32{1059, 431, 808, 1217, 287, 376, 1188}
	if !slices.Equal(got7, want7) {
		t.Fatalf("k=7: %v, want %v", got7, want7)
	}
	got9 := AllowedFastSet(netip.MustParseAddr("::ffff:80.4.4.1"), ih, 1313, 9)
	if !slices.Equal(got9, append(want7, 353, 508)) {
		t.Fatalf("k=9 (same /24, mapped): %v", got9)
	}
	if s := AllowedFastSet(ip, ih, 3, 10); len(s) != 3 {
		t.Fatalf("k above piece count: %v", s)
	}
	if AllowedFastSet(netip.MustParseAddr("2001:db8::1"), ih, 10, 3) != nil || AllowedFastSet(ip, ih, 0, 3) != nil {
		t.Fatal("undefined cases must return nil")
	}
}

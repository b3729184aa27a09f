package peerwire

import (
	"bufio"
	"encoding/binary"
	"io"
	"net/netip"
	"testing"
)

// loopReader replays one encoded stream forever, so that decoding can be
// measured without a socket and without allocation in the source.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.data[l.off:])
		n += c
		l.off = (l.off + c) % len(l.data)
	}
	return n, nil
}

func repeat(msg []byte, times int) []byte {
	var b []byte
	for range times {
		b = append(b, msg...)
	}
	return b
}

func pieceStream() []byte {
	block := make([]byte, BlockSize)
	return repeat(AppendPiece(nil, 5, 16384, block), 8)
}

func decodePieces(b *testing.B, r *Reader, dst []byte) {
	for b.Loop() {
		m, err := r.ReadMessage()
		if err != nil || m.ID != MsgPiece {
			b.Fatal(m, err)
		}
		if err := r.ReadPayload(dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePiece decodes a 16 KiB piece message into a caller's
// buffer; it must report 0 allocs/op.
func BenchmarkDecodePiece(b *testing.B) {
	r := NewReader(&loopReader{data: pieceStream()}, ReaderOptions{NumPieces: 100})
	dst := make([]byte, BlockSize)
	b.SetBytes(BlockSize + 13)
	b.ReportAllocs()
	decodePieces(b, r, dst)
}

// BenchmarkCopyBaseline moves the same bytes through a bufio.Reader of the
// same size with no decoding: the floor for BenchmarkDecodePiece.
func BenchmarkCopyBaseline(b *testing.B) {
	src := bufio.NewReaderSize(&loopReader{data: pieceStream()}, DefaultReadBuffer)
	dst := make([]byte, BlockSize+13)
	b.SetBytes(BlockSize + 13)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.ReadFull(src, dst); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDecode(b *testing.B, msg []byte, id MessageID) {
	r := NewReader(&loopReader{data: repeat(msg, 1000)}, ReaderOptions{NumPieces: 100})
	b.ReportAllocs()
	for b.Loop() {
		m, err := r.ReadMessage()
		if err != nil || m.ID != id {
			b.Fatal(m, err)
		}
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	benchDecode(b, AppendRequest(nil, 7, 16384, BlockSize), MsgRequest)
}

func BenchmarkDecodeHave(b *testing.B) { benchDecode(b, AppendHave(nil, 7), MsgHave) }

func BenchmarkDecodeCancel(b *testing.B) {
	benchDecode(b, AppendCancel(nil, 7, 16384, BlockSize), MsgCancel)
}

func BenchmarkEncodeRequest(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRequest(buf[:0], 7, 16384, BlockSize)
	}
	if len(buf) != 17 {
		b.Fatal(len(buf))
	}
}

func BenchmarkWriterPiece(b *testing.B) {
	w := NewWriter(io.Discard)
	block := make([]byte, BlockSize)
	b.SetBytes(BlockSize + 13)
	b.ReportAllocs()
	for b.Loop() {
		w.QueueHave(1)
		if err := w.WritePiece(1, 0, block); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHotPathAllocs pins the zero-allocation contract (an allocation
// count, not a timing).
func TestHotPathAllocs(t *testing.T) {
	check := func(name string, stream []byte, read func(r *Reader) error) {
		t.Helper()
		r := NewReader(&loopReader{data: stream}, ReaderOptions{NumPieces: 100})
		if err := read(r); err != nil { // warm up the buffer
			t.Fatal(err)
		}
		var err error
		if n := testing.AllocsPerRun(200, func() {
			if e := read(r); e != nil {
				err = e
			}
		}); n != 0 || err != nil {
			t.Errorf("%s: %v allocs/op, err %v", name, n, err)
		}
	}
	dst := make([]byte, BlockSize)
	check("piece", pieceStream(), func(r *Reader) error {
		if _, err := r.ReadMessage(); err != nil {
			return err
		}
		return r.ReadPayload(dst)
	})
	for _, msg := range [][]byte{AppendRequest(nil, 1, 0, BlockSize), AppendHave(nil, 1), AppendCancel(nil, 1, 0, 1)} {
		check(MessageID(msg[4]).String(), repeat(msg, 100), func(r *Reader) error {
			_, err := r.ReadMessage()
			return err
		})
	}
	buf := make([]byte, 0, 64)
	w := NewWriter(io.Discard)
	block := make([]byte, BlockSize)
	w.QueueHave(1) // grow the queue once
	if n := testing.AllocsPerRun(200, func() {
		buf = AppendRequest(buf[:0], 1, 2, 3)
		buf = AppendCancel(buf, 1, 2, 3)
		buf = AppendHave(buf, 1)
		buf = AppendPieceHeader(buf, 1, 2, BlockSize)
		w.QueueRequest(1, 2, 3)
		_ = w.WritePiece(1, 0, block)
	}); n != 0 {
		t.Errorf("encoding: %v allocs/op", n)
	}
}

// BenchmarkParseRequestBaseline parses the same request frames straight
// from a byte slice, with no reader, no validation and no I/O: the floor
// for BenchmarkDecodeRequest.
func BenchmarkParseRequestBaseline(b *testing.B) {
	data := repeat(AppendRequest(nil, 7, 16384, BlockSize), 1000)
	off := 0
	var sum uint32
	for b.Loop() {
		p := data[off : off+17]
		if binary.BigEndian.Uint32(p) != 13 || p[4] != byte(MsgRequest) {
			b.Fatal("frame")
		}
		sum += binary.BigEndian.Uint32(p[5:]) + binary.BigEndian.Uint32(p[9:]) + binary.BigEndian.Uint32(p[13:])
		off = (off + 17) % len(data)
	}
	if sum == 1 {
		b.Log(sum)
	}
}

// BenchmarkParseMetadataData decodes a full 16 KiB ut_metadata data
// message (the dictionary walk; the piece stays in place).
func BenchmarkParseMetadataData(b *testing.B) {
	frame := AppendMetadataData(nil, 1, 3, 100_000, make([]byte, MetadataPieceSize))
	payload := frame[6:]
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMetadataMsg(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParsePex decodes a ut_pex message of 50 added IPv4 peers with
// flags, 10 added IPv6 and 50 dropped into a reused Pex.
func BenchmarkParsePex(b *testing.B) {
	var p Pex
	for i := range 50 {
		p.Added = append(p.Added, PexPeer{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 6881), Flags: PexSeed})
		p.Dropped = append(p.Dropped, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), 6881))
	}
	for i := range 10 {
		p.Added = append(p.Added, PexPeer{Addr: netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 1, 15: byte(i)}), 6881)})
	}
	payload := AppendPex(nil, 1, &p)[6:]
	var got Pex
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ParsePex(payload, &got); err != nil {
			b.Fatal(err)
		}
	}
}

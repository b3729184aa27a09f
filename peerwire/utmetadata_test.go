package peerwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// extPayload checks the frame header of an extended message and returns
// its extended id and payload.
func extPayload(t testing.TB, frame []byte) (uint8, []byte) {
	t.Helper()
	if len(frame) < 6 || frame[4] != byte(MsgExtended) {
		t.Fatalf("not an extended frame: % x", frame[:min(len(frame), 8)])
	}
	if n := binary.BigEndian.Uint32(frame); int(n) != len(frame)-4 {
		t.Fatalf("length prefix %d, frame of %d bytes", n, len(frame)-4)
	}
	return frame[5], frame[6:]
}

func TestMetadataEncodingsMatchSpec(t *testing.T) {
	// The exact examples of BEP 9.
	_, p := extPayload(t, AppendMetadataRequest(nil, 3, 0))
	if string(p) != "d8:msg_typei0e5:piecei0ee" {
		t.Fatalf("request %q", p)
	}
	_, p = extPayload(t, AppendMetadataReject(nil, 3, 0))
	if string(p) != "d8:msg_typei2e5:piecei0ee" {
		t.Fatalf("reject %q", p)
	}
	data := bytes.Repeat([]byte{'x'}, 100)
	id, p := extPayload(t, AppendMetadataData(nil, 7, 0, 100, data))
	if id != 7 || string(p) != "d8:msg_typei1e5:piecei0e10:total_sizei100ee"+string(data) {
		t.Fatalf("data %d %q", id, p)
	}
	hdr := AppendMetadataDataHeader([]byte("prefix"), 7, 0, 100, len(data))
	if !bytes.Equal(append(hdr, data...), append([]byte("prefix"), AppendMetadataData(nil, 7, 0, 100, data)...)) {
		t.Fatal("header + data differs from AppendMetadataData")
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	const size = 3*MetadataPieceSize + 123
	meta := make([]byte, size)
	for i := range meta {
		meta[i] = byte(i * 7)
	}
	for piece := range MetadataPieces(size) {
		off := piece * MetadataPieceSize
		chunk := meta[off : off+MetadataPieceLen(size, piece)]
		_, p := extPayload(t, AppendMetadataData(nil, 1, piece, size, chunk))
		m, err := ParseMetadataMsg(p)
		if err != nil {
			t.Fatalf("piece %d: %v", piece, err)
		}
		if m.Type != MetadataData || m.Piece != piece || m.TotalSize != size || !bytes.Equal(m.Data, chunk) {
			t.Fatalf("piece %d: %+v", piece, m)
		}
	}
	for _, typ := range []MetadataMsgType{MetadataRequest, MetadataReject} {
		f := AppendMetadataRequest(nil, 1, 1023)
		if typ == MetadataReject {
			f = AppendMetadataReject(nil, 1, 1023)
		}
		_, p := extPayload(t, f)
		m, err := ParseMetadataMsg(p)
		if err != nil || m.Type != typ || m.Piece != 1023 || m.Data != nil {
			t.Fatalf("%v: %+v %v", typ, m, err)
		}
	}
	if MetadataPieces(0) != 0 || MetadataPieces(1) != 1 || MetadataPieces(MetadataPieceSize) != 1 ||
		MetadataPieces(MetadataPieceSize+1) != 2 || MetadataPieces(MaxMetadataSize) != MaxMetadataPieces ||
		MetadataPieces(MaxMetadataSize+1) != 0 {
		t.Fatal("MetadataPieces")
	}
	if MetadataPieceLen(size, 3) != 123 || MetadataPieceLen(size, 4) != 0 || MetadataPieceLen(size, -1) != 0 ||
		MetadataPieceLen(MetadataPieceSize, 0) != MetadataPieceSize {
		t.Fatal("MetadataPieceLen")
	}
}

// Messages as clients send them: unsorted keys, unknown keys, libtorrent's
// total_size in a reject.
func TestMetadataRealWorld(t *testing.T) {
	for _, c := range []struct {
		in   string
		want MetadataMsg
	}{
		{"d5:piecei2e8:msg_typei0ee", MetadataMsg{Type: MetadataRequest, Piece: 2}},
		{"d8:msg_typei2e5:piecei0e10:total_sizei5000ee", MetadataMsg{Type: MetadataReject, TotalSize: 5000}},
		{"d8:msg_typei2e5:piecei0e10:total_sizei999999999ee", MetadataMsg{Type: MetadataReject}},
		{"d1:xld1:ai1eee8:msg_typei0e5:piecei1e1:y3:abce", MetadataMsg{Type: MetadataRequest, Piece: 1}},
		{"d10:total_sizei3e5:piecei0e8:msg_typei1eeabc", MetadataMsg{Type: MetadataData, TotalSize: 3, Data: []byte("abc")}},
	} {
		m, err := ParseMetadataMsg([]byte(c.in))
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if m.Type != c.want.Type || m.Piece != c.want.Piece || m.TotalSize != c.want.TotalSize || !bytes.Equal(m.Data, c.want.Data) {
			t.Fatalf("%q: %+v, want %+v", c.in, m, c.want)
		}
	}
}

func TestMetadataHostile(t *testing.T) {
	full := strings.Repeat("x", MetadataPieceSize)
	for _, c := range []struct {
		in, field string
	}{
		{"", "dictionary"},
		{"le", "dictionary"},
		{"d8:msg_typei0e5:piecei0e", "dictionary"},                         // unterminated
		{"d8:msg_typei0e5:piecei0eee", "trailing bytes"},                   // request with data
		{"d8:msg_typei2e5:piecei0eex", "trailing bytes"},                   // reject with data
		{"d5:piecei0ee", "msg_type missing"},                               //
		{"d8:msg_typei0ee", "piece missing"},                               //
		{"d8:msg_typei3e5:piecei0ee", "msg_type"},                          // unknown type
		{"d8:msg_typei-1e5:piecei0ee", "msg_type"},                         //
		{"d8:msg_typei0e5:piecei-1ee", "piece"},                            //
		{"d8:msg_typei0e5:piecei1024ee", "piece"},                          // beyond 16 MiB
		{"d8:msg_typei0e8:msg_typei0e5:piecei0ee", "repeated msg_type"},    //
		{"d8:msg_type1:05:piecei0ee", "msg_type"},                          // string, not int
		{"d8:msg_typei01e5:piecei0ee", "msg_type"},                         // leading zero
		{"d8:msg_typei-0e5:piecei0ee", "msg_type"},                         //
		{"d8:msg_typei99999999999999999999e5:piecei0ee", "msg_type"},       // overflow
		{"d8:msg_typei1e5:piecei0ee", "total_size missing"},                //
		{"d8:msg_typei1e5:piecei0e10:total_sizei0ee", "total_size"},        //
		{"d8:msg_typei1e5:piecei0e10:total_sizei16777217ee", "total_size"}, //
		{"d8:msg_typei1e5:piecei1e10:total_sizei3eeabc", "piece"},          // piece beyond total
		{"d8:msg_typei1e5:piecei0e10:total_sizei3eeab", "data length"},     // short
		{"d8:msg_typei1e5:piecei0e10:total_sizei3eeabcd", "data length"},   // long
		{"d8:msg_typei1e5:piecei0e10:total_sizei16385ee" + full[:100], "data length"},
		{"d1:x" + strings.Repeat("l", 9) + strings.Repeat("e", 9) + "8:msg_typei0e5:piecei0ee", "dictionary"}, // too deep
		{"d9999999:x8:msg_typei0e5:piecei0ee", "dictionary"},                                                  // claimed length beyond the input
		{"d8:msg_typei1e5:piecei0e10:total_sizei16385ee" + full + "1234567890123456789012345678901234567890" + strings.Repeat("y", 1<<10), "length"},
	} {
		_, err := ParseMetadataMsg([]byte(c.in))
		var pe *ProtocolError
		if !errors.As(err, &pe) || !errors.Is(err, ErrBadMetadata) || pe.Field != c.field {
			t.Errorf("%.60q: got %v, want field %q", c.in, err, c.field)
		}
	}
}

func TestMetadataParseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	frame := AppendMetadataData(nil, 1, 1, 20000, make([]byte, 20000-MetadataPieceSize))
	_, p := extPayload(t, frame)
	req := AppendMetadataRequest(nil, 1, 5)
	_, q := extPayload(t, req)
	out := make([]byte, 0, 64)
	n := testing.AllocsPerRun(100, func() {
		if _, err := ParseMetadataMsg(p); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseMetadataMsg(q); err != nil {
			t.Fatal(err)
		}
		out = AppendMetadataRequest(out[:0], 1, 5)
		out = AppendMetadataDataHeader(out, 1, 5, 100000, MetadataPieceSize)
	})
	if n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

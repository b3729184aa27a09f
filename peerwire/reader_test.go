package peerwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
)

// allMessages holds one message of every kind, as they decode (piece
// payloads are read separately, so Payload is compared apart).
func allMessages() []Message {
	return []Message{
		{ID: MsgKeepAlive},
		{ID: MsgChoke},
		{ID: MsgUnchoke},
		{ID: MsgInterested},
		{ID: MsgNotInterested},
		{ID: MsgHave, Index: 9},
		{ID: MsgBitfield, Bitfield: []byte{0xa5, 0x80}},
		{ID: MsgRequest, Index: 3, Begin: 16384, Length: BlockSize},
		{ID: MsgPiece, Index: 3, Begin: 16384, Length: 5, Payload: []byte("hello")},
		{ID: MsgCancel, Index: 3, Begin: 16384, Length: BlockSize},
		{ID: MsgPort, Port: 6881},
		{ID: MsgSuggest, Index: 8},
		{ID: MsgHaveAll},
		{ID: MsgHaveNone},
		{ID: MsgReject, Index: 1, Begin: 0, Length: 100},
		{ID: MsgAllowedFast, Index: 7},
		{ID: MsgExtended, ExtID: 0, ExtPayload: []byte("d1:md11:ut_metadatai3eee")},
		{ID: MsgExtended, ExtID: 3, ExtPayload: []byte{}},
	}
}

func TestRoundTripEveryMessage(t *testing.T) {
	var stream []byte
	for _, m := range allMessages() {
		stream = AppendMessage(stream, m)
	}
	r := NewReader(bytes.NewReader(stream), ReaderOptions{NumPieces: 10})
	for _, want := range allMessages() {
		got, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("%v: %v", want.ID, err)
		}
		if want.ID == MsgPiece {
			buf := make([]byte, got.Length)
			if err := r.ReadPayload(buf); err != nil {
				t.Fatal(err)
			}
			got.Payload = buf
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}
}

func TestEncodingsMatchSpec(t *testing.T) {
	cases := []struct {
		got  []byte
		want []byte
	}{
		{AppendKeepAlive(nil), []byte{0, 0, 0, 0}},
		{AppendSimple(nil, MsgUnchoke), []byte{0, 0, 0, 1, 1}},
		{AppendSimple(nil, MsgHaveNone), []byte{0, 0, 0, 1, 15}},
		{AppendHave(nil, 0x01020304), []byte{0, 0, 0, 5, 4, 1, 2, 3, 4}},
		{AppendRequest(nil, 1, 2, 3), []byte{0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}},
		{AppendCancel(nil, 1, 2, 3), []byte{0, 0, 0, 13, 8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}},
		{AppendReject(nil, 1, 2, 3), []byte{0, 0, 0, 13, 16, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}},
		{AppendPiece(nil, 1, 2, []byte{7, 7}), []byte{0, 0, 0, 11, 7, 0, 0, 0, 1, 0, 0, 0, 2, 7, 7}},
		{AppendBitfield(nil, []byte{0xf0}), []byte{0, 0, 0, 2, 5, 0xf0}},
		{AppendPort(nil, 0x1ae1), []byte{0, 0, 0, 3, 9, 0x1a, 0xe1}},
		{AppendSuggest(nil, 2), []byte{0, 0, 0, 5, 13, 0, 0, 0, 2}},
		{AppendAllowedFast(nil, 2), []byte{0, 0, 0, 5, 17, 0, 0, 0, 2}},
		{AppendExtended(nil, 1, []byte("de")), []byte{0, 0, 0, 4, 20, 1, 'd', 'e'}},
	}
	for i, c := range cases {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("case %d: % x, want % x", i, c.got, c.want)
		}
	}
}

func TestAppendPanicsOnUnknown(t *testing.T) {
	for _, fn := range []func(){
		func() { AppendMessage(nil, Message{ID: 99}) },
		func() { AppendSimple(nil, MsgHave) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			fn()
		}()
	}
}

func frame(id byte, payload ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)))
	return append(append(b, id), payload...)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func TestHostileFrames(t *testing.T) {
	const pieces = 12 // bitfield of 2 bytes, 4 spare bits
	cases := []struct {
		name  string
		in    []byte
		opts  ReaderOptions
		want  error
		field string
	}{
		{"frame 4 GiB", []byte{0xff, 0xff, 0xff, 0xff, 7}, ReaderOptions{}, ErrFrameTooLarge, "length"},
		{"frame just above max", cat(u32(2+MaxExtendedLen+1), []byte{20, 0}), ReaderOptions{}, ErrFrameTooLarge, "length"},
		{"choke with payload", frame(0, 1), ReaderOptions{}, ErrBadLength, "length"},
		{"have all with payload", frame(14, 1), ReaderOptions{}, ErrBadLength, "length"},
		{"have short", frame(4, 0, 0, 1), ReaderOptions{}, ErrBadLength, "length"},
		{"have long", frame(4, 0, 0, 0, 1, 0), ReaderOptions{}, ErrBadLength, "length"},
		{"request short", frame(6, make([]byte, 11)...), ReaderOptions{}, ErrBadLength, "length"},
		{"cancel long", frame(8, make([]byte, 13)...), ReaderOptions{}, ErrBadLength, "length"},
		{"port long", frame(9, 1, 2, 3), ReaderOptions{}, ErrBadLength, "length"},
		{"extended empty", frame(20), ReaderOptions{}, ErrBadLength, "length"},
		{"extended over option", frame(20, make([]byte, 102)...), ReaderOptions{MaxExtendedLen: 100}, ErrBadLength, "length"},
		{"piece no block", frame(7, make([]byte, 8)...), ReaderOptions{}, ErrBadBlock, "length"},
		{"piece empty block", frame(7, make([]byte, 8)...), ReaderOptions{}, ErrBadBlock, "length"},
		{"piece block 128KiB+1", cat(u32(9+MaxBlockLen+1), []byte{7}), ReaderOptions{}, ErrBadBlock, "length"},
		{"request zero length", frame(6, cat(u32(0), u32(0), u32(0))...), ReaderOptions{}, ErrBadBlock, "block length"},
		{"request 16KiB+1", frame(6, cat(u32(0), u32(0), u32(BlockSize+1))...), ReaderOptions{}, ErrRequestTooLarge, "block length"},
		{"request over option", frame(6, cat(u32(0), u32(0), u32(MaxBlockLen+1))...), ReaderOptions{MaxRequestLen: 1 << 30}, ErrBadBlock, "block length"},
		{"cancel over cap", frame(8, cat(u32(0), u32(0), u32(MaxBlockLen+1))...), ReaderOptions{}, ErrBadBlock, "block length"},
		{"reject zero", frame(16, cat(u32(0), u32(0), u32(0))...), ReaderOptions{}, ErrBadBlock, "block length"},
		{"have index", frame(4, u32(pieces)...), ReaderOptions{NumPieces: pieces}, ErrBadIndex, "index"},
		{"request index", frame(6, cat(u32(pieces), u32(0), u32(1))...), ReaderOptions{NumPieces: pieces}, ErrBadIndex, "index"},
		{"piece index", frame(7, cat(u32(1<<31), u32(0), []byte{1})...), ReaderOptions{NumPieces: pieces}, ErrBadIndex, "index"},
		{"allowed fast index", frame(17, u32(100)...), ReaderOptions{NumPieces: pieces}, ErrBadIndex, "index"},
		{"bitfield short", frame(5, 0xff), ReaderOptions{NumPieces: pieces}, ErrBadBitfield, "length"},
		{"bitfield long", frame(5, 0xff, 0xf0, 0), ReaderOptions{NumPieces: pieces}, ErrBadBitfield, "length"},
		{"bitfield empty", frame(5), ReaderOptions{NumPieces: pieces}, ErrBadBitfield, "length"},
		{"bitfield spare bits", frame(5, 0xff, 0xf8), ReaderOptions{NumPieces: pieces}, ErrBadBitfield, "spare bits"},
		{"bitfield unknown count too big", cat(u32(2+MaxPieces/8), []byte{5}), ReaderOptions{}, ErrBadBitfield, "length"},
		{"bitfield unknown count empty", frame(5), ReaderOptions{}, ErrBadBitfield, "length"},
		{"bitfield frame over known count", cat(u32(9+MaxBlockLen+1), []byte{5}), ReaderOptions{NumPieces: pieces}, ErrBadBitfield, "length"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(c.in), c.opts)
			_, err := r.ReadMessage()
			var pe *ProtocolError
			if !errors.Is(err, c.want) || !errors.As(err, &pe) || pe.Field != c.field {
				t.Fatalf("err = %v, want %v on field %q", err, c.want, c.field)
			}
			if pe.Error() == "" {
				t.Fatal("empty error text")
			}
		})
	}
}

func TestTruncatedFrames(t *testing.T) {
	full := cat(
		AppendHave(nil, 1),
		AppendRequest(nil, 1, 2, 3),
		AppendPort(nil, 1),
		AppendBitfield(nil, []byte{0xff}),
		AppendExtended(nil, 1, []byte("xyz")),
		frame(99, 1, 2, 3),
	)
	// Every proper prefix that cuts a message must fail with
	// ErrUnexpectedEOF, never a panic nor a silent success.
	for cut := 1; cut < len(full); cut++ {
		r := NewReader(bytes.NewReader(full[:cut]), ReaderOptions{})
		var err error
		for err == nil {
			_, err = r.ReadMessage()
		}
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			t.Fatalf("cut %d: %v", cut, err)
		}
	}
	r := NewReader(bytes.NewReader(AppendPiece(nil, 0, 0, []byte("abcdef"))[:15]), ReaderOptions{})
	m, err := r.ReadMessage()
	if err != nil || m.Length != 6 {
		t.Fatalf("piece header: %v %+v", err, m)
	}
	if err := r.ReadPayload(make([]byte, 6)); err != io.ErrUnexpectedEOF {
		t.Fatalf("short payload: %v", err)
	}
}

func TestUnknownIDSkipped(t *testing.T) {
	in := cat(frame(21, make([]byte, 1000)...), frame(255), AppendHave(nil, 4))
	r := NewReader(bytes.NewReader(in), ReaderOptions{})
	for _, want := range []Message{{ID: 21, Length: 1000}, {ID: 255}, {ID: MsgHave, Index: 4}} {
		m, err := r.ReadMessage()
		if err != nil || !reflect.DeepEqual(m, want) {
			t.Fatalf("got %+v, %v; want %+v", m, err, want)
		}
	}
	if MessageID(21).Known() || !MsgPort.Known() || MessageID(21).String() != "unknown(21)" {
		t.Fatal("Known/String for unknown ids")
	}
}

func TestPayloadHandling(t *testing.T) {
	block := bytes.Repeat([]byte{0xab}, BlockSize)
	in := cat(AppendPiece(nil, 1, 0, block), AppendPiece(nil, 2, 0, block), AppendHave(nil, 5))
	r := NewReader(bytes.NewReader(in), ReaderOptions{BufferSize: 64})
	m, err := r.ReadMessage()
	if err != nil || m.Length != BlockSize || r.Pending() != BlockSize {
		t.Fatalf("%+v %v", m, err)
	}
	if err := r.ReadPayload(make([]byte, 10)); err != ErrNoPayload {
		t.Fatalf("wrong-size dst: %v", err)
	}
	dst := make([]byte, BlockSize)
	if err := r.ReadPayload(dst); err != nil || !bytes.Equal(dst, block) {
		t.Fatalf("payload: %v", err)
	}
	if err := r.ReadPayload(dst); err != ErrNoPayload {
		t.Fatalf("second ReadPayload: %v", err)
	}
	// Not reading the second block: ReadMessage skips it.
	if m, err := r.ReadMessage(); err != nil || m.Index != 2 {
		t.Fatal(m, err)
	}
	if m, err := r.ReadMessage(); err != nil || m.ID != MsgHave || m.Index != 5 {
		t.Fatal(m, err)
	}
}

func TestSetNumPieces(t *testing.T) {
	r := NewReader(bytes.NewReader(nil), ReaderOptions{})
	if r.MaxFrame() != 2+MaxExtendedLen {
		t.Fatalf("MaxFrame = %d", r.MaxFrame())
	}
	in := cat(frame(5, 0xff, 0xff, 0xff), AppendHave(nil, 30), frame(5, 0xff, 0xff, 0xff))
	r = NewReader(bytes.NewReader(in), ReaderOptions{})
	if m, err := r.ReadMessage(); err != nil || len(m.Bitfield) != 3 {
		t.Fatalf("unknown count: %+v %v", m, err)
	}
	r.SetNumPieces(20)
	if _, err := r.ReadMessage(); !errors.Is(err, ErrBadIndex) {
		t.Fatalf("have 30 of 20: %v", err)
	}
}

func TestCheckHelpers(t *testing.T) {
	m := Message{ID: MsgRequest, Index: 2, Begin: 16384, Length: 16384}
	if err := CheckBlock(m, 32768); err != nil {
		t.Fatal(err)
	}
	if err := CheckBlock(m, 32767); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("overflowing block: %v", err)
	}
	m.Begin = 0xffffffff
	if err := CheckBlock(m, 1<<40); err != nil {
		t.Fatalf("begin near 2^32 with a huge piece must not wrap: %v", err)
	}
	if err := CheckBlock(Message{Length: 0}, 10); !errors.Is(err, ErrBadBlock) {
		t.Fatal("zero length accepted")
	}
	if CheckIndex(m, 3) != nil || !errors.Is(CheckIndex(m, 2), ErrBadIndex) || !errors.Is(CheckIndex(m, -1), ErrBadIndex) {
		t.Fatal("CheckIndex")
	}
}

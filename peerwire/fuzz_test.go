package peerwire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func fuzzSeeds() [][]byte {
	var all []byte
	for _, m := range allMessages() {
		all = AppendMessage(all, m)
	}
	return [][]byte{
		all,
		AppendPiece(nil, 1, 0, bytes.Repeat([]byte{1}, 100)),
		cat(AppendBitfield(nil, []byte{0xff, 0xf0}), AppendHave(nil, 11)),
		{0xff, 0xff, 0xff, 0xff, 7},
		frame(5, 0xff, 0xff),
		frame(21, 1, 2, 3),
		frame(6, cat(u32(0), u32(0), u32(BlockSize+1))...),
		{0, 0, 0},
	}
}

// FuzzReadMessage decodes arbitrary streams. Properties: no panic; every
// error is EOF, unexpected EOF or a *ProtocolError; every known message
// decoded re-encodes to exactly the bytes it was decoded from.
func FuzzReadMessage(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s, uint16(12))
		f.Add(s, uint16(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, numPieces uint16) {
		r := NewReader(bytes.NewReader(in), ReaderOptions{NumPieces: int(numPieces), MaxExtendedLen: 4096, BufferSize: 16})
		off := 0
		for {
			m, err := r.ReadMessage()
			if err != nil {
				var pe *ProtocolError
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &pe) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			var size int
			switch {
			case m.ID == MsgPiece:
				m.Payload = make([]byte, m.Length)
				if err := r.ReadPayload(m.Payload); err != nil {
					return
				}
				size = 13 + int(m.Length)
			case !m.ID.Known():
				size = 5 + int(m.Length)
				off += size
				continue
			}
			enc := AppendMessage(nil, m)
			if size != 0 && size != len(enc) {
				t.Fatalf("piece size %d, encoding %d", size, len(enc))
			}
			if off+len(enc) > len(in) || !bytes.Equal(enc, in[off:off+len(enc)]) {
				t.Fatalf("%v at %d re-encodes to % x, input % x", m.ID, off, enc, in[off:min(len(in), off+len(enc))])
			}
			if m.ID == MsgBitfield && numPieces > 0 {
				if _, err := ParseBitfield(m.Bitfield, int(numPieces)); err != nil {
					t.Fatalf("reader accepted a bitfield ParseBitfield refuses: %v", err)
				}
			}
			off += len(enc)
		}
	})
}

// FuzzHandshake: parsing never panics, and whatever parses re-encodes to
// the same 68 bytes.
func FuzzHandshake(f *testing.F) {
	f.Add(AppendHandshake(nil, testHandshake()))
	f.Add(AppendHandshake(nil, Handshake{}))
	f.Add(bytes.Repeat([]byte{19}, 68))
	f.Add([]byte{19, 'B'})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ReadHandshake(bytes.NewReader(in))
		if err != nil {
			var pe *ProtocolError
			if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &pe) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if !bytes.Equal(AppendHandshake(nil, h), in[:HandshakeLen]) {
			t.Fatal("re-encoding differs")
		}
	})
}

// FuzzExtendedHandshake: no panic; errors are *ProtocolError wrapping
// ErrBadExtended; whatever parses survives Marshal and a second parse.
func FuzzExtendedHandshake(f *testing.F) {
	f.Add([]byte("d1:md11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei5678e1:pi6881e4:reqqi500e1:v10:Effusion/06:yourip4:\x7f\x00\x00\x01e"))
	f.Add([]byte("d1:mdee"))
	f.Add([]byte("d4:ipv64:abcde"))
	f.Add([]byte("d1:md1:xi256eee"))
	f.Add([]byte("d1:v4:test1:md6:ut_pexi1e11:ut_metadatai2ee1:pi6881ee"))
	f.Add([]byte("d4:ipv616:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x046:yourip16:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04e"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ParseExtendedHandshake(in)
		if err != nil {
			var pe *ProtocolError
			if !errors.Is(err, ErrBadExtended) || !errors.As(err, &pe) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if h.M == nil {
			h.M = map[string]int{}
		}
		again, err := ParseExtendedHandshake(h.Marshal())
		if err != nil {
			t.Fatalf("re-parse of own encoding: %v", err)
		}
		if !reflect.DeepEqual(again, h) {
			t.Fatalf("re-parse differs:\n%+v\n%+v", again, h)
		}
	})
}

package peerwire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func testHandshake() Handshake {
	var h Handshake
	for i := range h.InfoHash {
		h.InfoHash[i] = byte(i + 1)
		h.PeerID[i] = byte(0xa0 + i)
	}
	h.SetExtended()
	h.SetFast()
	h.SetDHT()
	return h
}

func TestHandshakeRoundTrip(t *testing.T) {
	h := testHandshake()
	var buf bytes.Buffer
	if err := WriteHandshake(&buf, h); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != HandshakeLen || HandshakeLen != 68 {
		t.Fatalf("encoded %d bytes, want 68", buf.Len())
	}
	b := buf.Bytes()
	if b[0] != 19 || string(b[1:20]) != "BitTorrent protocol" {
		t.Fatalf("bad prefix %q", b[:20])
	}
	if b[25] != 0x10 || b[27] != 0x05 {
		t.Fatalf("reserved = % x, want ext bit in byte 5, fast|dht in byte 7", b[20:28])
	}
	got, err := ReadHandshake(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got != h {
		t.Fatalf("round trip: got %+v want %+v", got, h)
	}
	if !got.SupportsExtended() || !got.SupportsFast() || !got.SupportsDHT() {
		t.Fatal("feature bits lost")
	}
	if p, err := ParseHandshake(b); err != nil || p != h {
		t.Fatalf("ParseHandshake: %v %+v", err, p)
	}
}

func TestHandshakeBitsIndependent(t *testing.T) {
	var h Handshake
	if h.SupportsExtended() || h.SupportsFast() || h.SupportsDHT() {
		t.Fatal("zero handshake claims features")
	}
	h.SetFast()
	if h.SupportsExtended() || !h.SupportsFast() || h.SupportsDHT() {
		t.Fatalf("SetFast set %x", h.Reserved)
	}
}

func TestHandshakeTwoSteps(t *testing.T) {
	h := testHandshake()
	enc := AppendHandshake(nil, h)
	// The peer id has not arrived yet: the header alone must be readable.
	r := bytes.NewReader(enc[:HandshakeHeaderLen])
	head, err := ReadHandshakeHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	if head.InfoHash != h.InfoHash || head.Reserved != h.Reserved || head.PeerID != ([20]byte{}) {
		t.Fatalf("header = %+v", head)
	}
	if r.Len() != 0 {
		t.Fatalf("header read left %d bytes", r.Len())
	}
	if err := ReadHandshakePeerID(bytes.NewReader(enc[HandshakeHeaderLen:]), &head); err != nil {
		t.Fatal(err)
	}
	if head != h {
		t.Fatalf("two-step result %+v", head)
	}
	// Reading never consumes past the handshake.
	r = bytes.NewReader(append(enc, 0, 0, 0, 0))
	if _, err := ReadHandshake(r); err != nil || r.Len() != 4 {
		t.Fatalf("err %v, left %d", err, r.Len())
	}
}

func TestHandshakeHostile(t *testing.T) {
	good := AppendHandshake(nil, testHandshake())
	cases := []struct {
		name  string
		in    []byte
		want  error
		field string
	}{
		{"empty", nil, io.EOF, ""},
		{"short header", good[:30], io.ErrUnexpectedEOF, ""},
		{"no peer id", good[:HandshakeHeaderLen+5], io.ErrUnexpectedEOF, ""},
		{"pstrlen", append([]byte{18}, good[1:]...), ErrBadHandshake, "pstrlen"},
		{"mse-looking", bytes.Repeat([]byte{0x9c}, 68), ErrBadHandshake, "pstrlen"},
		{"protocol", append(append([]byte{19}, "BitTorrent protocoL"...), good[20:]...), ErrBadHandshake, "protocol string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadHandshake(bytes.NewReader(c.in))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			var pe *ProtocolError
			if c.field != "" && (!errors.As(err, &pe) || pe.Field != c.field) {
				t.Fatalf("err = %#v, want field %q", err, c.field)
			}
		})
	}
	if _, err := ParseHandshake(good[:67]); !errors.Is(err, ErrBadHandshake) {
		t.Fatalf("ParseHandshake(67 bytes) = %v", err)
	}
}

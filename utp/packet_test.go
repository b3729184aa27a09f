package utp

import (
	"bytes"
	"errors"
	"testing"
)

func TestPacketRoundTrip(t *testing.T) {
	h := header{typ: stData, connID: 0xbeef, ts: 1, tsDiff: 2, wnd: 3, seq: 0xfffe, ack: 7}
	sack := []byte{0x05, 0, 0, 0x80}
	b := make([]byte, hdrSlot+3)
	n := putHeader(b, &h, sack, 65507)
	copy(b[n:], "abc")
	var p packet
	if err := parsePacket(b[:n+3], &p); err != nil {
		t.Fatal(err)
	}
	if p.header != h || !bytes.Equal(p.sack, sack) || p.large != 65507 || string(p.payload) != "abc" {
		t.Fatalf("got %+v sack %x large %d payload %q", p.header, p.sack, p.large, p.payload)
	}
	if !isUTP(b[:n]) || isUTP([]byte("d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:ping1:t2:aa1:y1:qe")) {
		t.Fatal("demultiplexing by the first byte")
	}
}

func TestPacketRejects(t *testing.T) {
	good := make([]byte, headerLen)
	putHeader(good, &header{typ: stState}, nil, 0)
	cases := map[string][]byte{
		"short":        good[:19],
		"version 2":    append([]byte{stState<<4 | 2}, good[1:]...),
		"type 5":       append([]byte{5<<4 | 1}, good[1:]...),
		"ext past end": append([]byte{good[0], 1}, good[2:]...),
		"ext body past end": func() []byte {
			b := append([]byte{good[0], 1}, good[2:]...)
			return append(b, 0, 8, 1, 2)
		}(),
		"sack length 3": func() []byte {
			b := append([]byte{good[0], 1}, good[2:]...)
			return append(b, 0, 3, 1, 2, 3)
		}(),
		"ext loop": func() []byte {
			b := append([]byte{good[0], 9}, good[2:]...)
			for range 20 {
				b = append(b, 9, 0)
			}
			return b
		}(),
	}
	for name, b := range cases {
		var p packet
		if err := parsePacket(b, &p); !errors.Is(err, ErrPacket) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	// Unknown extensions are skipped.
	b := append([]byte{good[0], 2}, good[2:]...)
	b = append(b, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 'x')
	var p packet
	if err := parsePacket(b, &p); err != nil || string(p.payload) != "x" {
		t.Fatalf("unknown extension: %v %q", err, p.payload)
	}
}

func TestSeqLess(t *testing.T) {
	if !seqLess(65535, 0) || seqLess(0, 65535) || !seqLess(1, 2) || seqLess(5, 5) {
		t.Fatal("wrapping comparison")
	}
}

// FuzzParsePacket: any datagram parses or errors, never panics, and what
// parses re-encodes to the same header.
func FuzzParsePacket(f *testing.F) {
	b := make([]byte, hdrSlot)
	n := putHeader(b, &header{typ: stData, connID: 1, seq: 2, ack: 3, wnd: 1 << 20}, []byte{1, 0, 0, 0}, 0)
	f.Add(append(b[:n:n], "payload"...))
	n = putHeader(b, &header{typ: stSyn, connID: 9}, nil, maxDatagram)
	f.Add(append([]byte(nil), b[:n]...))
	f.Add([]byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p packet
		if err := parsePacket(data, &p); err != nil {
			return
		}
		if len(p.sack)%4 != 0 || len(p.payload) > len(data) {
			t.Fatal("bounds")
		}
		out := make([]byte, hdrSlot+len(p.sack))
		var sack []byte
		if len(p.sack) <= maxSackBytes {
			sack = p.sack
		}
		m := putHeader(out, &p.header, sack, p.large)
		var q packet
		if err := parsePacket(out[:m], &q); err != nil || q.header != p.header {
			t.Fatalf("re-encode: %v %+v %+v", err, q.header, p.header)
		}
	})
}

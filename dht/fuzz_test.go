package dht

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	abencode "github.com/anacrolix/torrent/bencode"
)

// FuzzCheckKRPC: CheckKRPC never panics, and every datagram it accepts
// decodes with anacrolix's own decoder without a panic and with the parts
// the library dereferences present (the library panics otherwise).
func FuzzCheckKRPC(f *testing.F) {
	for _, s := range []string{
		"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
		"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
		"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
		"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
		"d1:rd2:id20:0123456789abcdefghij5:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
		"d2:ip6:\x7f\x00\x00\x01\x1a\xe11:rd2:id20:0123456789abcdefghij5:nodes26:abcdefghij0123456789\x7f\x00\x00\x01\x1a\xe1e1:t2:aa1:y1:re",
		"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
		"d1:q13:announce_peer1:t2:aa1:y1:qe",
		"d1:rd2:id20:abcdefghij01234567896:valuesl1:xee1:t2:aa1:y1:re",
		"d2:ip1:x1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re",
		"d1:ad2:id20:abcdefghij0123456789e1:q3:put1:t2:aa1:y1:qe",
		"d1:ad2:id20:abcdefghij01234567894:wantl2:n42:n6ee1:q9:find_node1:t2:aa1:y1:qe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckKRPC(b)
		if err != nil {
			if !errors.Is(err, ErrKRPC) {
				t.Fatalf("error %v does not wrap ErrKRPC", err)
			}
			return
		}
		var m krpc.Msg
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("accepted %q, and anacrolix's decoder panics: %v", b, r)
				}
			}()
			err = abencode.Unmarshal(b, &m)
		}()
		var trailing abencode.ErrUnusedTrailingBytes
		if err != nil && !errors.As(err, &trailing) {
			return // the library drops what it cannot decode
		}
		switch m.Y {
		case "q":
			if m.A == nil {
				t.Fatalf("accepted a query without arguments: %q", b)
			}
		case "r":
			if m.R == nil {
				t.Fatalf("accepted a response without a result: %q", b)
			}
			for _, v := range m.R.Values {
				if len(v.IP) != 4 && len(v.IP) != 16 {
					t.Fatalf("accepted a malformed value %v", v)
				}
			}
		}
	})
}

// FuzzPeerStore drives a small store with a sequence of operations decoded
// from the input (adds of arbitrary addresses, lookups, clock steps) and
// checks its bounds after each.
func FuzzPeerStore(f *testing.F) {
	f.Add([]byte("\x00\x01\x04\x0a\x00\x00\x01\x1a\xe1\x01\x01\x02\xff"))
	f.Add([]byte("\x00\x02\x10\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x50"))
	f.Add([]byte("\x00\x03\x00\x00\x00\x00\x00\x03\x00\x03\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		clk := &fakeClock{t: time.Unix(1e9, 0)}
		const perHash, hashes, reply = 4, 3, 2
		ps := NewPeerStore(PeerStoreConfig{PeersPerInfoHash: perHash, MaxInfoHashes: hashes, PeersPerReply: reply, Now: clk.now})
		for len(b) >= 2 {
			op, ihByte := b[0]%3, b[1]%8
			b = b[2:]
			ih := [20]byte{ihByte}
			switch op {
			case 0: // add: IP length byte, IP, port
				if len(b) < 1 {
					return
				}
				n := int(b[0]) % 20
				b = b[1:]
				if len(b) < n+2 {
					return
				}
				ps.AddPeer(ih, krpc.NodeAddr{IP: append([]byte(nil), b[:n]...), Port: int(int16(binary.BigEndian.Uint16(b[n:])))})
				b = b[n+2:]
			case 1:
				got := ps.GetPeers(ih)
				if len(got) > reply {
					t.Fatalf("%d peers in a reply", len(got))
				}
				for _, na := range got {
					ap := netip.AddrPortFrom(ipAddr(na.IP), uint16(na.Port))
					if na.Port <= 0 || na.Port > 65535 || !usableAddr(ap, false) {
						t.Fatalf("served unusable %v", na)
					}
				}
			case 2:
				clk.advance(time.Duration(ihByte) * 5 * time.Minute)
			}
			st := ps.Stats()
			if st.InfoHashes > hashes || st.Peers > hashes*perHash || st.Peers < 0 {
				t.Fatalf("bounds broken: %+v", st)
			}
		}
	})
}

// FuzzDecodeNodes: saved-node files never panic the decoder, and what it
// returns re-encodes to a prefix-free, decodable file.
func FuzzDecodeNodes(f *testing.F) {
	f.Add(EncodeNodes([]NodeInfo{{ID: [20]byte{1}, Addr: netip.MustParseAddrPort("127.0.0.1:1")}}))
	f.Add(make([]byte, 38))
	f.Add(make([]byte, 39))
	f.Fuzz(func(t *testing.T, b []byte) {
		nodes, err := DecodeNodes(b)
		if err != nil {
			return
		}
		if len(nodes) > MaxSavedNodes {
			t.Fatalf("%d nodes", len(nodes))
		}
		again, err := DecodeNodes(EncodeNodes(nodes))
		if err != nil || len(again) != len(nodes) {
			t.Fatalf("round trip: %v %v", again, err)
		}
		for i := range nodes {
			if again[i] != nodes[i] {
				t.Fatalf("round trip changed %v to %v", nodes[i], again[i])
			}
		}
	})
}

// FuzzFilter: the whole pre-library filter (source address, size, rate,
// KRPC check) never panics and accepts only what CheckKRPC accepts.
func FuzzFilter(f *testing.F) {
	f.Add([]byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"), []byte{127, 0, 0, 1}, uint16(6881), false)
	f.Add([]byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"), []byte{8, 8, 8, 8}, uint16(6881), true)
	f.Add([]byte("x"), []byte{}, uint16(0), true)
	f.Fuzz(func(t *testing.T, b, ip []byte, port uint16, public bool) {
		fl := newFilter(public, DefaultMaxPacket, 1, 2, nil)
		from := netip.AddrPortFrom(ipAddr(ip), port)
		for range 3 {
			r := fl.check(b, from)
			if r == DropNone && (CheckKRPC(b) != nil || !usableAddr(from, public)) {
				t.Fatalf("accepted %q from %v", b, from)
			}
			if r >= numDropReasons {
				t.Fatalf("reason %d", r)
			}
		}
	})
}

package peerwire

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/effusion-bt/effusion/bencode"
)

// FuzzMetadataMsg decodes arbitrary ut_metadata payloads. Properties: no
// panic; errors are *ProtocolError wrapping ErrBadMetadata; a decoded
// message re-encodes to a payload that decodes to the same message; the
// data is exactly the bytes after the dictionary and of the size the
// dictionary implies; and where the project's bencode decoder (keys in any
// order) accepts the dictionary, it reads the same msg_type and piece.
func FuzzMetadataMsg(f *testing.F) {
	for _, fr := range [][]byte{
		AppendMetadataRequest(nil, 1, 0),
		AppendMetadataReject(nil, 1, 1023),
		AppendMetadataData(nil, 1, 1, MetadataPieceSize+3, []byte("abc")),
	} {
		_, p := extPayload(f, fr)
		f.Add(p)
	}
	f.Add([]byte("d8:msg_typei2e5:piecei0e10:total_sizei5000ee"))
	f.Add([]byte("d1:xld1:ai1eee8:msg_typei0e5:piecei1e1:y3:abce"))
	f.Add([]byte("d10:total_sizei3e5:piecei0e8:msg_typei1eeabc"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseMetadataMsg(in)
		if err != nil {
			var pe *ProtocolError
			if !errors.Is(err, ErrBadMetadata) || !errors.As(err, &pe) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		var fr []byte
		switch m.Type {
		case MetadataRequest:
			fr = AppendMetadataRequest(nil, 0, m.Piece)
		case MetadataReject:
			fr = AppendMetadataReject(nil, 0, m.Piece)
		case MetadataData:
			if len(m.Data) != MetadataPieceLen(m.TotalSize, m.Piece) || len(m.Data) == 0 {
				t.Fatalf("data of %d bytes for piece %d of %d", len(m.Data), m.Piece, m.TotalSize)
			}
			if !bytes.HasSuffix(in, m.Data) {
				t.Fatal("data is not the payload's tail")
			}
			fr = AppendMetadataData(nil, 0, m.Piece, m.TotalSize, m.Data)
		default:
			t.Fatalf("type %v", m.Type)
		}
		_, p := extPayload(t, fr)
		again, err := ParseMetadataMsg(p)
		if m.Type != MetadataData {
			m.TotalSize = 0 // not re-encoded
		}
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("re-parse: %v\n%+v\n%+v", err, again, m)
		}
		var d map[string]any
		dict := in[:len(in)-len(m.Data)]
		if bencode.UnmarshalLimits(dict, &d, bencode.Limits{AllowUnsorted: true}) == nil {
			if d["msg_type"] != int64(m.Type) || d["piece"] != int64(m.Piece) {
				t.Fatalf("bencode reads %v, ParseMetadataMsg %+v", d, m)
			}
		}
	})
}

// FuzzPex decodes arbitrary ut_pex payloads. Properties: no panic; errors
// are *ProtocolError wrapping ErrBadPex; at most MaxPexEntries of each
// list; a decoded message re-encodes to one that decodes to the same peers
// (IPv4 first, as the encoder groups them).
func FuzzPex(f *testing.F) {
	_, p := extPayload(f, AppendPex(nil, 1, &Pex{
		Added:   []PexPeer{{Addr: ap("10.0.0.1:6881"), Flags: PexSeed}, {Addr: ap("[2001:db8::1]:1"), Flags: PexUTP}},
		Dropped: []netip.AddrPort{ap("10.0.0.2:2"), ap("[2001:db8::2]:3")},
	}))
	f.Add(p)
	f.Add([]byte("d5:added6:\x7f\x00\x00\x01\x1a\xe1e"))
	f.Add([]byte("d1:xd1:ali1eee7:dropped6:\x7f\x00\x00\x01\x00\x01e"))
	f.Add([]byte("d6:added618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x0a\x00\x00\x01\x00\x02e"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var m Pex
		if err := ParsePex(in, &m); err != nil {
			var pe *ProtocolError
			if !errors.Is(err, ErrBadPex) || !errors.As(err, &pe) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if len(m.Added) > MaxPexEntries || len(m.Dropped) > MaxPexEntries {
			t.Fatalf("%d added, %d dropped", len(m.Added), len(m.Dropped))
		}
		_, p := extPayload(t, AppendPex(nil, 0, &m))
		var again Pex
		if err := ParsePex(p, &again); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(byFamily(again.Added), byFamily(m.Added)) ||
			!reflect.DeepEqual(byFamilyAddrs(again.Dropped), byFamilyAddrs(m.Dropped)) {
			t.Fatalf("re-parse differs:\n%+v\n%+v", again, m)
		}
	})
}

func byFamily(l []PexPeer) []PexPeer {
	var out []PexPeer
	for _, want := range []int{4, 6} {
		for _, p := range l {
			if fam(p.Addr) == want {
				out = append(out, p)
			}
		}
	}
	return out
}

func byFamilyAddrs(l []netip.AddrPort) []netip.AddrPort {
	var out []netip.AddrPort
	for _, want := range []int{4, 6} {
		for _, a := range l {
			if fam(a) == want {
				out = append(out, a)
			}
		}
	}
	return out
}

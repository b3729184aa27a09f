package tracker

import (
	"net/netip"
	"testing"
)

func benchPeers(n int) []netip.AddrPort {
	ps := make([]netip.AddrPort, n)
	for i := range ps {
		ps[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(1000+i))
	}
	return ps
}

// BenchmarkParseAnnounceBody decodes an HTTP announce response with 200
// compact peers; BenchmarkParseUDPAnnounceResponse is the same answer over
// UDP, the baseline for the cost of the bencode layer.
func BenchmarkParseAnnounceBody(b *testing.B) {
	var compact []byte
	for _, p := range benchPeers(200) {
		compact = AppendCompactPeer(compact, p)
	}
	body := mustMarshal(b, map[string]any{"complete": 10, "incomplete": 20, "interval": 1800, "min interval": 900, "peers": compact})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAnnounceBody(body, MaxPeersPerResponse); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseUDPAnnounceResponse(b *testing.B) {
	pkt := AppendUDPAnnounceResponse(nil, 1, 1800, 20, 10, benchPeers(200), false)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseUDPAnnounceResponse(pkt, false, MaxPeersPerResponse); err != nil {
			b.Fatal(err)
		}
	}
}

package tracker

import (
	"encoding/binary"
	"net/netip"
)

// MaxPeersPerResponse is the default cap on peers kept from one response.
const MaxPeersPerResponse = 1000

// ParseCompactPeers decodes a BEP 23 (6-byte, IPv4) or BEP 7 (18-byte, IPv6)
// compact peer string, appending at most max peers to dst (max <= 0: no cap).
// A length that is not a multiple of the entry size is an error, as is any
// entry with port 0 or an unspecified address; entries beyond max are ignored.
func ParseCompactPeers(dst []netip.AddrPort, b []byte, ipv6 bool, max int) ([]netip.AddrPort, error) {
	size := 6
	field := "peers"
	if ipv6 {
		size, field = 18, "peers6"
	}
	if len(b)%size != 0 {
		return dst, &ParseError{Field: field, Msg: "length not a multiple of entry size"}
	}
	for i := 0; i+size <= len(b); i += size {
		if max > 0 && len(dst) >= max {
			break
		}
		var a netip.Addr
		if ipv6 {
			a = netip.AddrFrom16([16]byte(b[i : i+16])).Unmap()
		} else {
			a = netip.AddrFrom4([4]byte(b[i : i+4]))
		}
		port := binary.BigEndian.Uint16(b[i+size-2:])
		if !usablePeer(a, port) {
			continue
		}
		dst = append(dst, netip.AddrPortFrom(a, port))
	}
	return dst, nil
}

// usablePeer drops entries no client can connect to.
func usablePeer(a netip.Addr, port uint16) bool {
	return port != 0 && a.IsValid() && !a.IsUnspecified() && !a.IsMulticast()
}

// AppendCompactPeer appends the compact form of p: 6 bytes for IPv4 (or an
// IPv4-mapped address), 18 for IPv6.
func AppendCompactPeer(dst []byte, p netip.AddrPort) []byte {
	a := p.Addr().Unmap()
	if a.Is4() {
		b := a.As4()
		dst = append(dst, b[:]...)
	} else {
		b := a.As16()
		dst = append(dst, b[:]...)
	}
	return binary.BigEndian.AppendUint16(dst, p.Port())
}

// dedupPeers removes repeated addresses in place, keeping the first occurrence.
func dedupPeers(ps []netip.AddrPort) []netip.AddrPort {
	if len(ps) < 2 {
		return ps
	}
	seen := make(map[netip.AddrPort]struct{}, len(ps))
	out := ps[:0]
	for _, p := range ps {
		if _, ok := seen[p]; ok {
			continue
		}
		seen[p] = struct{}{}
		out = append(out, p)
	}
	return out
}

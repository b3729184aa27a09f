package peerwire

import (
	"crypto/sha1"
	"encoding/binary"
	"net/netip"
	"slices"
)

// AllowedFastSet computes the canonical allowed fast set of BEP 6: the k
// pieces (at most numPieces) a peer at ip may download from us while
// choked. BEP 6 defines it for IPv4 only (an IPv4-mapped IPv6 address is
// unmapped); for other addresses it returns nil.
func AllowedFastSet(ip netip.Addr, infoHash [20]byte, numPieces, k int) []uint32 {
	ip = ip.Unmap()
	if !ip.Is4() || numPieces <= 0 || k <= 0 {
		return nil
	}
	k = min(k, numPieces)
	a4 := ip.As4()
	x := make([]byte, 0, 24)
	x = append(x, a4[0], a4[1], a4[2], 0) // the /24 of the peer
	x = append(x, infoHash[:]...)
	set := make([]uint32, 0, k)
	for len(set) < k {
		sum := sha1.Sum(x)
		x = sum[:]
		for i := 0; i < 5 && len(set) < k; i++ {
			idx := binary.BigEndian.Uint32(x[4*i:]) % uint32(numPieces)
			if !slices.Contains(set, idx) {
				set = append(set, idx)
			}
		}
	}
	return set
}

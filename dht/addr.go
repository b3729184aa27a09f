package dht

import (
	"net"
	"net/netip"
)

// AddrPolicy says which addresses a node accepts for nodes and peers.
type AddrPolicy uint8

const (
	// AddrPolicyAuto (the zero value) is AddrPolicyLocal when every
	// bootstrap address and the listening address are local (loopback,
	// private, link-local: a test or LAN DHT), else AddrPolicyPublic.
	AddrPolicyAuto AddrPolicy = iota
	// AddrPolicyPublic is for the public Mainline DHT: packets from and to
	// local addresses are dropped, and peers at local addresses found in
	// get_peers answers are not delivered (a node that hands out loopback
	// or private addresses is lying or misconfigured).
	AddrPolicyPublic
	// AddrPolicyLocal accepts every unicast address: a DHT on loopback or
	// a LAN.
	AddrPolicyLocal
)

// String returns "auto", "public" or "local".
func (p AddrPolicy) String() string {
	switch p {
	case AddrPolicyPublic:
		return "public"
	case AddrPolicyLocal:
		return "local"
	}
	return "auto"
}

// IsLocal reports whether a is an address that is not reachable across the
// internet: loopback, private (RFC 1918, fc00::/7), shared (100.64/10),
// link-local, unspecified, multicast, or the reserved 0/8, 240/4 and
// documentation ranges. IPv4-mapped IPv6 addresses are judged as IPv4.
func IsLocal(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range localPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var localPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// usableAddr reports whether ap can be a node or a peer under the policy:
// a valid unicast address with a non-zero port, and global under
// AddrPolicyPublic.
func usableAddr(ap netip.AddrPort, public bool) bool {
	a := ap.Addr().Unmap()
	if !a.IsValid() || ap.Port() == 0 || a.IsUnspecified() || a.IsMulticast() {
		return false
	}
	if a.Is4() && a.As4()[0] == 0 || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	return !public || !IsLocal(a)
}

// addrPortOf converts the address of a packet to a netip.AddrPort (invalid
// for anything but UDP addresses).
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case interface{ AddrPort() netip.AddrPort }:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// ipAddr converts a net.IP to a netip.Addr, unmapped (invalid for a
// malformed IP).
func ipAddr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

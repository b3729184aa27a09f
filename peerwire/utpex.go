package peerwire

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// PexFlags are the per-peer flags of a ut_pex "added.f" / "added6.f" byte
// (BEP 11).
type PexFlags uint8

// Flags of an added peer.
const (
	PexEncryption PexFlags = 0x01 // prefers encryption
	PexSeed       PexFlags = 0x02 // seed or upload-only
	PexUTP        PexFlags = 0x04 // supports uTP
	PexHolepunch  PexFlags = 0x08 // supports ut_holepunch (BEP 55)
	PexReachable  PexFlags = 0x10 // reachable: the sender connected out to it
)

// Limits of the ut_pex decoder.
const (
	// MaxPexEntries caps how many added peers (IPv4 and IPv6 together),
	// and separately how many dropped ones, ParsePex decodes from one
	// message; the rest are skipped and Pex.Truncated is set. BEP 11 asks
	// senders for at most 50 of each; libtorrent sends up to 100 added.
	MaxPexEntries = 200
	// MaxPexLen caps the payload of a ut_pex message: far above any
	// honest message, far below the 1 MiB of an extended message.
	MaxPexLen = 64 << 10
)

// PexPeer is one added peer of a ut_pex message.
type PexPeer struct {
	Addr  netip.AddrPort // IPv4 addresses are plain (never IPv4-mapped)
	Flags PexFlags
}

// Pex is a ut_pex message: peers the sender connected to and disconnected
// from since its previous message. IPv4 and IPv6 peers share one list; the
// encoder splits them into "added"/"added6" and "dropped"/"dropped6".
type Pex struct {
	Added   []PexPeer
	Dropped []netip.AddrPort
	// Truncated is set by ParsePex when a list held more than
	// MaxPexEntries entries; the excess was skipped.
	Truncated bool
}

// Reset empties p, keeping the capacity of its slices.
func (p *Pex) Reset() {
	p.Added, p.Dropped, p.Truncated = p.Added[:0], p.Dropped[:0], false
}

// ParsePex decodes the payload of a ut_pex extended message into dst,
// which is reset first and whose slices are reused (so a caller that keeps
// one Pex per connection decodes without allocating once they have grown).
//
// Keys may come in any order; unknown keys are skipped (nesting at most 8
// deep); a repeated known key, a known key that is not a string, a compact
// list whose length is not a multiple of 6 (IPv4) or 18 (IPv6) bytes, or a
// payload above MaxPexLen is refused with a [*ProtocolError] wrapping
// [ErrBadPex]. An "added.f" / "added6.f" whose length differs from its
// list's entry count is ignored (the peers get no flags), as some clients
// omit it. Addresses are not judged here (port 0, multicast, our own):
// that is the caller's policy. IPv4-mapped addresses in added6/dropped6 are
// unmapped.
func ParsePex(payload []byte, dst *Pex) error {
	dst.Reset()
	bad := func(field string, v, limit int64) error {
		return &ProtocolError{Msg: "ut_pex", Field: field, Value: v, Limit: limit, Err: ErrBadPex}
	}
	if len(payload) > MaxPexLen {
		return bad("length", int64(len(payload)), MaxPexLen)
	}
	s := scanner{b: payload}
	if err := s.openDict(); err != nil {
		return bad("dictionary", int64(s.pos), 0)
	}
	// Indices into lists: added, added.f, added6, added6.f, dropped, dropped6.
	var lists [6][]byte
	var seen uint8
	for {
		key, done, err := s.nextKey()
		if err != nil {
			return bad("dictionary", int64(s.pos), 0)
		}
		if done {
			break
		}
		k := -1
		switch string(key) {
		case "added":
			k = 0
		case "added.f":
			k = 1
		case "added6":
			k = 2
		case "added6.f":
			k = 3
		case "dropped":
			k = 4
		case "dropped6":
			k = 5
		}
		if k < 0 {
			if err := s.skip(0); err != nil {
				return bad("dictionary", int64(s.pos), 0)
			}
			continue
		}
		if seen&(1<<k) != 0 {
			return bad("repeated "+string(key), 0, 0)
		}
		seen |= 1 << k
		v, err := s.str()
		if err != nil {
			return bad(string(key), int64(s.pos), 0)
		}
		lists[k] = v
	}
	if len(s.b) != s.pos {
		return bad("trailing bytes", int64(len(s.b)-s.pos), 0)
	}
	for _, l := range [...]struct {
		name string
		k    int
		size int
	}{{"added", 0, 6}, {"added6", 2, 18}, {"dropped", 4, 6}, {"dropped6", 5, 18}} {
		if len(lists[l.k])%l.size != 0 {
			return bad(l.name+" length", int64(len(lists[l.k])), 0)
		}
	}
	dst.addAdded(lists[0], lists[1], 6)
	dst.addAdded(lists[2], lists[3], 18)
	dst.addDropped(lists[4], 6)
	dst.addDropped(lists[5], 18)
	return nil
}

// compactAddr decodes one compact entry: 4 or 16 address bytes and a port.
func compactAddr(b []byte) netip.AddrPort {
	port := binary.BigEndian.Uint16(b[len(b)-2:])
	if len(b) == 6 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), port)
	}
	return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[:16])).Unmap(), port)
}

func (p *Pex) addAdded(list, flags []byte, size int) {
	n := len(list) / size
	if len(flags) != n {
		flags = nil
	}
	for i := range n {
		if len(p.Added) >= MaxPexEntries {
			p.Truncated = true
			return
		}
		pp := PexPeer{Addr: compactAddr(list[i*size : (i+1)*size])}
		if flags != nil {
			pp.Flags = PexFlags(flags[i])
		}
		p.Added = append(p.Added, pp)
	}
}

func (p *Pex) addDropped(list []byte, size int) {
	for i := 0; i+size <= len(list); i += size {
		if len(p.Dropped) >= MaxPexEntries {
			p.Truncated = true
			return
		}
		p.Dropped = append(p.Dropped, compactAddr(list[i:i+size]))
	}
}

// AppendPex appends a whole ut_pex frame (length prefix, extended id 20,
// the peer's ut_pex id extID, the dictionary) for p. All six keys are
// written, empty or not, and every added peer gets its flags byte
// (libtorrent ignores "added" without a matching "added.f"). Addresses that
// are not valid are left out. The caller caps the lists (BEP 11: 50 added
// and 50 dropped per message).
func AppendPex(dst []byte, extID uint8, p *Pex) []byte {
	var n4, n6, d4, d6 int
	for _, a := range p.Added {
		switch fam(a.Addr) {
		case 4:
			n4++
		case 6:
			n6++
		}
	}
	for _, a := range p.Dropped {
		switch fam(a) {
		case 4:
			d4++
		case 6:
			d6++
		}
	}
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(MsgExtended), extID, 'd')
	// "added": IPv4 entries, then "added.f": their flags.
	dst = appendKeyLen(dst, "added", n4*6)
	for _, a := range p.Added {
		if fam(a.Addr) == 4 {
			dst = appendCompact(dst, a.Addr)
		}
	}
	dst = appendKeyLen(dst, "added.f", n4)
	for _, a := range p.Added {
		if fam(a.Addr) == 4 {
			dst = append(dst, byte(a.Flags))
		}
	}
	dst = appendKeyLen(dst, "added6", n6*18)
	for _, a := range p.Added {
		if fam(a.Addr) == 6 {
			dst = appendCompact(dst, a.Addr)
		}
	}
	dst = appendKeyLen(dst, "added6.f", n6)
	for _, a := range p.Added {
		if fam(a.Addr) == 6 {
			dst = append(dst, byte(a.Flags))
		}
	}
	dst = appendKeyLen(dst, "dropped", d4*6)
	for _, a := range p.Dropped {
		if fam(a) == 4 {
			dst = appendCompact(dst, a)
		}
	}
	dst = appendKeyLen(dst, "dropped6", d6*18)
	for _, a := range p.Dropped {
		if fam(a) == 6 {
			dst = appendCompact(dst, a)
		}
	}
	dst = append(dst, 'e')
	binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// fam is 4 for an IPv4 (or IPv4-mapped) address, 6 for IPv6, 0 for an
// invalid one.
func fam(a netip.AddrPort) int {
	switch ip := a.Addr(); {
	case !ip.IsValid():
		return 0
	case ip.Is4() || ip.Is4In6():
		return 4
	}
	return 6
}

// appendKeyLen appends a bencoded key and the length header of the string
// value that follows.
func appendKeyLen(dst []byte, key string, n int) []byte {
	dst = strconv.AppendInt(dst, int64(len(key)), 10)
	dst = append(dst, ':')
	dst = append(dst, key...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, ':')
}

func appendCompact(dst []byte, a netip.AddrPort) []byte {
	ip := a.Addr()
	if ip.Is4() || ip.Is4In6() {
		b := ip.Unmap().As4()
		dst = append(dst, b[:]...)
	} else {
		b := ip.As16()
		dst = append(dst, b[:]...)
	}
	return binary.BigEndian.AppendUint16(dst, a.Port())
}

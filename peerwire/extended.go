package peerwire

import (
	"net/netip"
	"sort"

	"github.com/effusion-bt/effusion/bencode"
)

// MaxMetadataSize is the largest info dictionary (BEP 9 metadata_size) an
// extended handshake may announce: 16 MiB, as anacrolix/torrent allows.
const MaxMetadataSize = 16 << 20

// MaxExtendedHandshake caps the payload of a BEP 10 extended handshake:
// 8 KiB, many times what any client sends (libtorrent's is about 300
// bytes). ParseExtendedHandshake refuses a longer payload before decoding
// anything, so a hostile handshake costs a length comparison.
const MaxExtendedHandshake = 8 << 10

// ExtendedHandshake is the dictionary of the BEP 10 extended handshake
// (extended message id 0). Zero values mean "not sent".
type ExtendedHandshake struct {
	// M maps extension names (for example "ut_metadata", "ut_pex") to the
	// extended message id the sender wants to receive them with; 0
	// disables an extension it announced before. Ids are 0..255.
	M map[string]int
	// V is the sender's client name and version.
	V string
	// Reqq is how many outstanding requests the sender queues.
	Reqq int
	// P is the sender's listening port (1..65535).
	P int
	// YourIP is the receiver's address as the sender sees it.
	YourIP netip.Addr
	// IPv4 and IPv6 are the sender's own addresses.
	IPv4, IPv6 netip.Addr
	// MetadataSize is the size of the info dictionary (BEP 9), at most
	// MaxMetadataSize.
	MetadataSize int
	// UploadOnly is BEP 21's upload_only: the sender is a seed or a
	// partial seed and will not download.
	UploadOnly bool
}

// extLimits bound the bencode of an extended handshake: it is a flat
// dictionary with one nested dictionary. Keys may come in any order (some
// clients do not sort them) but never twice.
var extLimits = bencode.Limits{MaxDepth: 8, MaxStringLen: MaxExtendedHandshake, MaxSize: MaxExtendedHandshake, AllowUnsorted: true}

// ParseExtendedHandshake decodes the payload of an extended message with
// id 0. A payload above MaxExtendedHandshake bytes is refused before it is
// decoded. Keys it does not know are ignored; keys may come in any order,
// but a repeated key is refused. A payload that is not a bencoded
// dictionary, or a known key of the wrong type or outside its range, yields
// a [*ProtocolError] wrapping [ErrBadExtended] (naming the key); the
// bencode error, when there is one, is in its chain.
func ParseExtendedHandshake(payload []byte) (ExtendedHandshake, error) {
	var h ExtendedHandshake
	if len(payload) > MaxExtendedHandshake {
		return h, &ProtocolError{Msg: "extended handshake", Field: "length", Value: int64(len(payload)), Limit: MaxExtendedHandshake, Err: ErrBadExtended}
	}
	var d map[string]any
	if err := bencode.UnmarshalLimits(payload, &d, extLimits); err != nil {
		return h, &ProtocolError{Msg: "extended handshake", Field: "dictionary", Err: wrapBoth{ErrBadExtended, err}}
	}
	bad := func(field string, v int64) error {
		return &ProtocolError{Msg: "extended handshake", Field: field, Value: v, Err: ErrBadExtended}
	}
	if v, ok := d["m"]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return h, bad("m", 0)
		}
		h.M = make(map[string]int, len(m))
		for name, idv := range m {
			id, ok := idv.(int64)
			if !ok || id < 0 || id > 255 {
				return h, bad("m."+name, id)
			}
			h.M[name] = int(id)
		}
	}
	ints := []struct {
		key      string
		dst      *int
		min, max int64
	}{
		{"reqq", &h.Reqq, 0, 1 << 31},
		{"p", &h.P, 0, 65535},
		{"metadata_size", &h.MetadataSize, 0, MaxMetadataSize},
	}
	for _, f := range ints {
		if v, ok := d[f.key]; ok {
			n, ok := v.(int64)
			if !ok || n < f.min || n > f.max {
				return h, bad(f.key, n)
			}
			*f.dst = int(n)
		}
	}
	if v, ok := d["upload_only"]; ok {
		n, ok := v.(int64)
		if !ok {
			return h, bad("upload_only", 0)
		}
		h.UploadOnly = n != 0
	}
	if v, ok := d["v"]; ok {
		s, ok := v.(string)
		if !ok {
			return h, bad("v", 0)
		}
		h.V = s
	}
	addrs := []struct {
		key  string
		dst  *netip.Addr
		size int // 0 = 4 or 16
	}{
		{"yourip", &h.YourIP, 0},
		{"ipv4", &h.IPv4, 4},
		{"ipv6", &h.IPv6, 16},
	}
	for _, f := range addrs {
		if v, ok := d[f.key]; ok {
			s, ok := v.(string)
			if !ok || (len(s) != 4 && len(s) != 16) || (f.size != 0 && len(s) != f.size) {
				return h, bad(f.key, int64(len(s)))
			}
			a, _ := netip.AddrFromSlice([]byte(s))
			if f.size == 0 {
				a = a.Unmap() // yourip: an IPv4-mapped address is IPv4
			}
			*f.dst = a
		}
	}
	return h, nil
}

// wrapBoth lets errors.Is find both the sentinel and the bencode error.
type wrapBoth [2]error

func (w wrapBoth) Error() string   { return w[0].Error() + ": " + w[1].Error() }
func (w wrapBoth) Unwrap() []error { return w[:] }

type wireExtHandshake struct {
	IPv4         string         `bencode:"ipv4,omitempty"`
	IPv6         string         `bencode:"ipv6,omitempty"`
	M            map[string]int `bencode:"m"`
	MetadataSize int            `bencode:"metadata_size,omitempty"`
	P            int            `bencode:"p,omitempty"`
	Reqq         int            `bencode:"reqq,omitempty"`
	UploadOnly   int            `bencode:"upload_only,omitempty"`
	V            string         `bencode:"v,omitempty"`
	YourIP       string         `bencode:"yourip,omitempty"`
}

func addrBytes(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	if a.Is4() || a.Is4In6() {
		b := a.Unmap().As4()
		return string(b[:])
	}
	b := a.As16()
	return string(b[:])
}

// Marshal returns the bencoded dictionary (the payload of an extended
// message with id 0). "m" is always present, as BEP 10 requires; zero
// fields are left out. IPv4 must hold an IPv4 address and IPv6 an IPv6 one
// (16 bytes on the wire), or they are left out.
func (h ExtendedHandshake) Marshal() []byte {
	w := wireExtHandshake{M: h.M, MetadataSize: h.MetadataSize, P: h.P, Reqq: h.Reqq, V: h.V, YourIP: addrBytes(h.YourIP)}
	if w.M == nil {
		w.M = map[string]int{}
	}
	if h.IPv4.Unmap().Is4() {
		w.IPv4 = addrBytes(h.IPv4)
	}
	if h.IPv6.Is6() {
		b := h.IPv6.As16()
		w.IPv6 = string(b[:])
	}
	if h.UploadOnly {
		w.UploadOnly = 1
	}
	b, err := bencode.Marshal(w)
	if err != nil {
		// Only strings, ints and a map of ints: encoding cannot fail.
		panic("peerwire: encoding extended handshake: " + err.Error())
	}
	return b
}

// Extensions returns the names in M with a non-zero id, sorted.
func (h ExtendedHandshake) Extensions() []string {
	var names []string
	for k, v := range h.M {
		if v != 0 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

package metainfo

import (
	"encoding/base32"
	"encoding/hex"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxMagnetLen bounds the length of a magnet URI ParseMagnet accepts.
const MaxMagnetLen = 64 << 10

// Magnet is a magnet URI: what a client needs to find a torrent's metadata.
type Magnet struct {
	InfoHash   [20]byte // xt=urn:btih: (v1)
	HasV1      bool
	InfoHashV2 [32]byte // xt=urn:btmh: with a SHA-256 multihash (BEP 52)
	HasV2      bool
	Name       string      // dn
	Trackers   []string    // tr, in order, without duplicates
	WebSeeds   []string    // ws (BEP 19)
	Peers      []string    // x.pe: host:port of peers to try
	SelectOnly []FileRange // so (BEP 53): indices of files to download
}

// FileRange is an inclusive range of file indices (BEP 53 "so").
type FileRange struct{ First, Last int }

// Selects reports whether file index i is to be downloaded: always when the
// magnet has no "so" parameter, else when a range holds it.
func (m *Magnet) Selects(i int) bool {
	if len(m.SelectOnly) == 0 {
		return true
	}
	for _, r := range m.SelectOnly {
		if i >= r.First && i <= r.Last {
			return true
		}
	}
	return false
}

// ParseMagnet parses a magnet URI. It needs at least one "xt" of
// urn:btih: (40 hex digits or 32 base32 characters) or urn:btmh: (a SHA-256
// multihash, "1220" and 64 hex digits); other xt URNs are ignored, as are
// unknown parameters. Numbered parameters ("tr.1") count as their base name.
// Errors are *FieldError naming the parameter.
func ParseMagnet(uri string) (*Magnet, error) {
	if len(uri) > MaxMagnetLen {
		return nil, fieldErr("", ErrLimit, "magnet URI of %d bytes exceeds the limit of %d", len(uri), MaxMagnetLen)
	}
	if len(uri) < 8 || !strings.EqualFold(uri[:8], "magnet:?") {
		return nil, malformed("", `not a magnet URI (expected "magnet:?")`)
	}
	m := &Magnet{}
	seenTr := map[string]bool{}
	for part := range strings.SplitSeq(uri[8:], "&") {
		if part == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(part, "=")
		key := strings.ToLower(rawKey)
		if base, n, ok := strings.Cut(key, "."); ok && n != "" && isDigits(n) {
			key = base
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return nil, malformed(rawKey, "bad escape: %v", err)
		}
		switch key {
		case "xt":
			if err := m.parseXT(val); err != nil {
				return nil, err
			}
		case "dn":
			if m.Name == "" {
				m.Name = val
			}
		case "tr":
			if val != "" && !seenTr[val] {
				seenTr[val] = true
				m.Trackers = append(m.Trackers, val)
			}
		case "ws":
			if val != "" {
				m.WebSeeds = append(m.WebSeeds, val)
			}
		case "x.pe":
			host, port, err := net.SplitHostPort(val)
			if err != nil || host == "" {
				return nil, malformed("x.pe", "%q is not host:port", val)
			}
			if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				return nil, malformed("x.pe", "%q has a bad port", val)
			}
			m.Peers = append(m.Peers, val)
		case "so":
			r, err := parseSelectOnly(val)
			if err != nil {
				return nil, err
			}
			m.SelectOnly = append(m.SelectOnly, r...)
		}
	}
	if !m.HasV1 && !m.HasV2 {
		return nil, malformed("xt", "no urn:btih: or urn:btmh: info-hash")
	}
	return m, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func (m *Magnet) parseXT(val string) error {
	lower := strings.ToLower(val)
	switch {
	case strings.HasPrefix(lower, "urn:btih:"):
		h := val[len("urn:btih:"):]
		var ih [20]byte
		switch len(h) {
		case 40:
			if _, err := hex.Decode(ih[:], []byte(h)); err != nil {
				return malformed("xt", "urn:btih: %q is not hex", h)
			}
		case 32:
			b, err := base32.StdEncoding.DecodeString(strings.ToUpper(h))
			if err != nil || len(b) != 20 {
				return malformed("xt", "urn:btih: %q is not base32", h)
			}
			copy(ih[:], b)
		default:
			return malformed("xt", "urn:btih: has %d characters (want 40 hex or 32 base32)", len(h))
		}
		if m.HasV1 && ih != m.InfoHash {
			return malformed("xt", "two different urn:btih: info-hashes")
		}
		m.InfoHash, m.HasV1 = ih, true
	case strings.HasPrefix(lower, "urn:btmh:"):
		h := val[len("urn:btmh:"):]
		b, err := hex.DecodeString(h)
		if err != nil {
			return malformed("xt", "urn:btmh: %q is not hex", h)
		}
		if len(b) != 34 || b[0] != 0x12 || b[1] != 0x20 {
			return malformed("xt", "urn:btmh: is not a SHA-256 multihash (want 1220 and 64 hex digits)")
		}
		var ih [32]byte
		copy(ih[:], b[2:])
		if m.HasV2 && ih != m.InfoHashV2 {
			return malformed("xt", "two different urn:btmh: info-hashes")
		}
		m.InfoHashV2, m.HasV2 = ih, true
	}
	return nil
}

// parseSelectOnly parses BEP 53 "0,2,4-6".
func parseSelectOnly(val string) ([]FileRange, error) {
	var out []FileRange
	for item := range strings.SplitSeq(val, ",") {
		a, b, isRange := strings.Cut(item, "-")
		first, err1 := strconv.Atoi(a)
		last := first
		var err2 error
		if isRange {
			last, err2 = strconv.Atoi(b)
		}
		if err1 != nil || err2 != nil || !isDigits(a) || (isRange && !isDigits(b)) || first > last || last >= MaxFiles {
			return nil, malformed("so", "%q is not a file index or range", item)
		}
		out = append(out, FileRange{first, last})
	}
	return out, nil
}

// String returns the canonical magnet URI: xt (btih in lower-case hex, then
// btmh), dn, tr, ws, x.pe, so, in that order, values query-escaped, except
// for the ':', '[' and ']' of x.pe peers, which libtorrent reads only
// literally (it ignores "127.0.0.1%3A6881").
func (m *Magnet) String() string {
	var b strings.Builder
	b.WriteString("magnet:?")
	sep := ""
	add := func(k, v string) {
		b.WriteString(sep)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		sep = "&"
	}
	if m.HasV1 {
		add("xt", "urn:btih:"+hex.EncodeToString(m.InfoHash[:]))
	}
	if m.HasV2 {
		add("xt", "urn:btmh:1220"+hex.EncodeToString(m.InfoHashV2[:]))
	}
	if m.Name != "" {
		add("dn", url.QueryEscape(m.Name))
	}
	for _, t := range m.Trackers {
		add("tr", url.QueryEscape(t))
	}
	for _, w := range m.WebSeeds {
		add("ws", url.QueryEscape(w))
	}
	for _, p := range m.Peers {
		add("x.pe", escapePeer(p))
	}
	if len(m.SelectOnly) > 0 {
		parts := make([]string, len(m.SelectOnly))
		for i, r := range m.SelectOnly {
			parts[i] = strconv.Itoa(r.First)
			if r.Last != r.First {
				parts[i] += "-" + strconv.Itoa(r.Last)
			}
		}
		add("so", strings.Join(parts, ","))
	}
	return b.String()
}

// ParseMagnetOrHash parses what a user gives to download a torrent by its
// info-hash: a magnet URI (see ParseMagnet), or a bare v1 info-hash of 40
// hex digits or 32 base32 characters (any case; surrounding spaces
// ignored), which gives a Magnet with only InfoHash. The result always has
// a v1 info-hash: a magnet whose only exact topic is a v2 "urn:btmh:", or
// a bare 64-hex-digit (SHA-256) hash, is refused with a *FieldError
// wrapping ErrV2Only that says v2 is not supported yet. Anything else is a
// *FieldError wrapping ErrMalformed (or ErrLimit) naming the problem.
func ParseMagnetOrHash(s string) (*Magnet, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 7 && strings.EqualFold(s[:7], "magnet:") {
		m, err := ParseMagnet(s)
		if err != nil {
			return nil, err
		}
		if !m.HasV1 {
			return nil, fieldErr("xt", ErrV2Only, "the magnet link has only a BitTorrent v2 info-hash (urn:btmh:); v2 is not supported yet")
		}
		return m, nil
	}
	if ih, ok := parseBareHash(s); ok {
		return &Magnet{InfoHash: ih, HasV1: true}, nil
	}
	if len(s) == 64 && isHex(s) {
		return nil, fieldErr("", ErrV2Only, "%s is a 64-digit (SHA-256) BitTorrent v2 info-hash; v2 is not supported yet", s)
	}
	if s == "" {
		return nil, malformed("", "empty: want a magnet link or an info-hash (40 hex digits or 32 base32 characters)")
	}
	return nil, malformed("", "%.80q is neither a magnet link (magnet:?xt=urn:btih:...) nor an info-hash (40 hex digits or 32 base32 characters)", s)
}

// LooksLikeMagnetOrHash reports whether s has the form ParseMagnetOrHash
// expects (a "magnet:" prefix, or 40 hex digits, 32 base32 characters or
// 64 hex digits), so that a command taking a .torrent file name or a
// magnet can tell which it was given. A caller may prefer an existing file
// of that name.
func LooksLikeMagnetOrHash(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) >= 7 && strings.EqualFold(s[:7], "magnet:") {
		return true
	}
	_, ok := parseBareHash(s)
	return ok || (len(s) == 64 && isHex(s))
}

// parseBareHash decodes 40 hex digits or 32 base32 characters.
func parseBareHash(s string) ([20]byte, bool) {
	var ih [20]byte
	switch {
	case len(s) == 40 && isHex(s):
		hex.Decode(ih[:], []byte(s))
		return ih, true
	case len(s) == 32:
		b, err := base32.StdEncoding.DecodeString(strings.ToUpper(s))
		if err == nil && len(b) == 20 {
			copy(ih[:], b)
			return ih, true
		}
	}
	return ih, false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// PeerAddrs splits the magnet's x.pe peers into numeric addresses
// (IPv4-mapped IPv6 addresses unmapped) and the host:port entries whose
// host is a name, which the caller resolves (or ignores). Both keep the
// magnet's order.
func (m *Magnet) PeerAddrs() (addrs []netip.AddrPort, hosts []string) {
	for _, p := range m.Peers {
		if a, err := netip.ParseAddrPort(p); err == nil {
			addrs = append(addrs, netip.AddrPortFrom(a.Addr().Unmap(), a.Port()))
		} else {
			hosts = append(hosts, p)
		}
	}
	return addrs, hosts
}

// TrackerTiers returns the magnet's trackers as announce tiers, one
// tracker per tier, so that every one of them is announced to (BEP 12
// announces to one tracker per tier); nil when there are none.
func (m *Magnet) TrackerTiers() [][]string {
	var tiers [][]string
	for _, t := range m.Trackers {
		tiers = append(tiers, []string{t})
	}
	return tiers
}

// escapePeer query-escapes an x.pe host:port but keeps ':', '[' and ']'.
func escapePeer(p string) string {
	return strings.NewReplacer("%3A", ":", "%5B", "[", "%5D", "]").Replace(url.QueryEscape(p))
}

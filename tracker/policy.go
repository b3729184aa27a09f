package tracker

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxURLLen bounds a tracker URL (announce URLs come from untrusted torrents).
const MaxURLLen = 4096

// ParseTrackerURL checks that raw is a usable tracker URL: scheme http, https
// or udp, a host, a valid port if any, no user info. Errors wrap ErrBadURL.
func ParseTrackerURL(raw string) (*url.URL, error) {
	if len(raw) > MaxURLLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadURL, len(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	switch u.Scheme {
	case "http", "https", "udp":
	default:
		return nil, fmt.Errorf("%w: scheme %q not allowed", ErrBadURL, truncate(u.Scheme, 16))
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: no host", ErrBadURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: user info not allowed", ErrBadURL)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%w: port %q", ErrBadURL, truncate(p, 8))
		}
	} else if u.Scheme == "udp" {
		return nil, fmt.Errorf("%w: udp tracker without port", ErrBadURL)
	}
	return u, nil
}

// ScrapeURL derives the scrape URL from an announce URL by the BEP 48 rule:
// the last path segment must start with "announce", which is replaced by
// "scrape". UDP URLs scrape at the same address and are returned unchanged.
// Otherwise the error wraps ErrScrapeUnsupported (or ErrBadURL).
func ScrapeURL(announce string) (string, error) {
	u, err := ParseTrackerURL(announce)
	if err != nil {
		return "", err
	}
	if u.Scheme == "udp" {
		return announce, nil
	}
	i := strings.LastIndexByte(u.Path, '/')
	last := u.Path[i+1:]
	if !strings.HasPrefix(last, "announce") {
		return "", fmt.Errorf("%w: %s", ErrScrapeUnsupported, announce)
	}
	u.Path = u.Path[:i+1] + "scrape" + strings.TrimPrefix(last, "announce")
	u.RawPath = ""
	// Re-encoding may lengthen it (a host's raw bytes become %XX) past
	// what ParseTrackerURL takes: what we return, it must accept.
	s := u.String()
	if _, err := ParseTrackerURL(s); err != nil {
		return "", err
	}
	return s, nil
}

// IsPrivateAddr reports whether a is loopback, private (RFC 1918, ULA),
// link-local, shared (RFC 6598), unspecified or otherwise not globally routed.
// A tracker on a public address may not send us to one of these.
func IsPrivateAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsUnspecified() || !a.IsValid() {
		return true
	}
	if a.Is4() {
		b := a.As4()
		if b[0] == 0 || (b[0] == 100 && b[1]&0xc0 == 64) || b[0] >= 240 {
			return true
		}
	}
	return false
}

// addrGuard enforces, for one logical request (with its redirects), that a
// request which started at a public address never reaches a private one.
// The first address checked fixes the origin.
type addrGuard struct {
	mu        sync.Mutex
	originSet bool
	public    bool
}

func (g *addrGuard) check(a netip.Addr) error {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
		return fmt.Errorf("%w: %v", ErrForbiddenAddress, a)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.originSet {
		g.originSet, g.public = true, !IsPrivateAddr(a)
		return nil
	}
	if g.public && IsPrivateAddr(a) {
		return fmt.Errorf("%w: public tracker redirected to %v", ErrForbiddenAddress, a)
	}
	return nil
}

// sanitizeText turns tracker-supplied bytes into a printable, bounded string:
// invalid UTF-8 and control characters become U+FFFD.
func sanitizeText(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	clean := true
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r < 0x20 || r == 0x7f {
			r = utf8.RuneError
		}
		sb.WriteRune(r)
		b = b[size:]
	}
	return sb.String()
}

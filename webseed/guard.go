package webseed

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/tracker"
)

// addrGuard is the tracker client's address rule applied to one seed: the
// first address the seed reaches fixes its class, and a seed that started
// at a public address never reaches a private or loopback one, neither by a
// redirect nor by a DNS name that resolves there. Unlike the tracker's
// guard (one per announce), it lives as long as the seed, because the
// seed's connections are kept alive and reused.
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
		g.originSet, g.public = true, !tracker.IsPrivateAddr(a)
		return nil
	}
	if g.public && tracker.IsPrivateAddr(a) {
		return fmt.Errorf("%w: a public web seed led to %v", ErrForbiddenAddress, a)
	}
	return nil
}

// checkRedirect bounds and checks redirects: at most max, http(s) only,
// and targets given as IP literals pass the guard at once (names are
// checked when dialled).
func checkRedirect(g *addrGuard, max int) func(*http.Request, []*http.Request) error {
	return func(r *http.Request, via []*http.Request) error {
		if len(via) > max {
			return fmt.Errorf("%w (%d)", ErrTooManyRedirects, len(via))
		}
		if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
			return fmt.Errorf("%w: redirect to scheme %q", ErrTooManyRedirects, truncate(r.URL.Scheme, 16))
		}
		if a, err := netip.ParseAddr(r.URL.Hostname()); err == nil {
			return g.check(a)
		}
		return nil
	}
}

// newTransport is the seed's own keep-alive pool: at most conns
// connections per host, every dialled address checked by g, no proxy from
// the environment, no compression (the bytes are hashed as they come).
func newTransport(g *addrGuard, conns int) *http.Transport {
	d := &net.Dialer{
		Timeout: 15 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			return g.check(ap.Addr())
		},
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		MaxConnsPerHost:        conns,
		MaxIdleConnsPerHost:    conns,
		MaxIdleConns:           4 * conns,
		IdleConnTimeout:        90 * time.Second,
		DisableCompression:     true,
		TLSHandshakeTimeout:    15 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      false,
	}
}

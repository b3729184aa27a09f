package daemon

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CheckListen refuses an RPC address reachable from other machines unless
// requests must authenticate (auth): a loopback IP or "localhost" is fine
// without; an empty host, a wildcard, another IP or a name is not. The
// error wraps ErrNeedAuth. New and Serve apply it; a command may call it
// first to fail before starting anything.
func CheckListen(addr string, auth bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("daemon: RPC address %q: %w", addr, err)
	}
	if auth || isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%w (%s): set --rpc-user and a password", ErrNeedAuth, addr)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// hostAllowed is the defence against DNS rebinding (Transmission's
// CVE-2018-5702): a page of another site whose name was made to resolve to
// this machine sends its own name in Host. An IP address cannot be
// rebound and "localhost" never leaves the machine, so those pass;
// any other name must be one the user configured.
func hostAllowed(hostHeader string, allowed []string) bool {
	host := hostHeader
	if h, _, err := net.SplitHostPort(hostHeader); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "" {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if host == "localhost" {
		return true
	}
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSuffix(a, "."), host) {
			return true
		}
	}
	return false
}

// Failed-login slowing: after n failures in a row, an address must wait
// penalty(n) before its next attempt is even checked (earlier ones get
// 429 without a password compare), so guessing runs at a few tries a
// minute. A success forgets the address.
const (
	penaltyBase = 250 * time.Millisecond
	penaltyMax  = 30 * time.Second
	maxTracked  = 4096 // addresses remembered at once
)

func penalty(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	if n > 8 {
		return penaltyMax
	}
	return min(penaltyBase<<(n-1), penaltyMax)
}

// authGate checks HTTP Basic credentials in constant time and slows
// guessing per client address. Safe for concurrent use.
type authGate struct {
	enabled    bool
	user, pass [sha256.Size]byte // hashes: the compare takes the same time whatever the length
	now        func() time.Time  // injectable for tests

	mu    sync.Mutex
	fails map[netip.Addr]failRec
}

type failRec struct {
	n    int
	last time.Time
}

func newAuthGate(user, pass string) *authGate {
	g := &authGate{enabled: user != "", now: time.Now, fails: map[netip.Addr]failRec{}}
	g.user = sha256.Sum256([]byte(user))
	g.pass = sha256.Sum256([]byte(pass))
	return g
}

// check reports whether r may go on; if not, it has written the answer:
// 401 with a Basic challenge, or 429 while the address is penalised.
func (g *authGate) check(w http.ResponseWriter, r *http.Request) bool {
	if !g.enabled {
		return true
	}
	ip := remoteIP(r)
	now := g.now()
	g.mu.Lock()
	rec := g.fails[ip]
	g.mu.Unlock()
	if wait := rec.last.Add(penalty(rec.n)).Sub(now); rec.n > 0 && wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		http.Error(w, "too many failed logins: try again later", http.StatusTooManyRequests)
		return false
	}
	user, pass, ok := r.BasicAuth()
	u := sha256.Sum256([]byte(user))
	p := sha256.Sum256([]byte(pass))
	good := subtle.ConstantTimeCompare(u[:], g.user[:]) & subtle.ConstantTimeCompare(p[:], g.pass[:])
	if ok && good == 1 {
		if rec.n > 0 {
			g.mu.Lock()
			delete(g.fails, ip)
			g.mu.Unlock()
		}
		return true
	}
	if ok { // no credentials at all is how a browser asks for the prompt: not a failure
		g.mu.Lock()
		if len(g.fails) >= maxTracked {
			g.evict(now)
		}
		rec = g.fails[ip]
		g.fails[ip] = failRec{n: rec.n + 1, last: now}
		g.mu.Unlock()
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="effusion", charset="UTF-8"`)
	http.Error(w, "authentication required", http.StatusUnauthorized)
	return false
}

// evict forgets addresses whose penalty is over, or, if none is, one
// address (g.mu held).
func (g *authGate) evict(now time.Time) {
	for ip, rec := range g.fails {
		if !now.Before(rec.last.Add(penalty(rec.n))) {
			delete(g.fails, ip)
		}
	}
	for ip := range g.fails {
		if len(g.fails) < maxTracked {
			break
		}
		delete(g.fails, ip)
	}
}

func remoteIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// maxBody bounds a request body: a 16 MiB torrent in base64 (4/3 of it)
// plus room for the rest of a torrent-add.
const (
	maxTorrentSize = 16 << 20
	maxBody        = (maxTorrentSize+2)/3*4 + 1<<20
)

// guard wraps h with the checks every request passes: the Host header,
// then authentication; and it sets the headers that keep the pages from
// being framed or sniffed.
func (d *Daemon) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		if !hostAllowed(r.Host, d.cfg.AllowedHosts) {
			d.log.Warn("request refused: Host not allowed", "host", r.Host, "remote", r.RemoteAddr)
			http.Error(w, fmt.Sprintf("Host %q is not allowed (DNS rebinding defence): use an IP address or localhost, or allow the name with --rpc-host", r.Host), http.StatusMisdirectedRequest)
			return
		}
		if !d.auth.check(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	})
}

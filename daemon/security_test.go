package daemon

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A request naming a foreign host is refused before anything else (DNS
// rebinding); IP addresses, localhost and configured names pass.
func TestSecurity_ForeignHostRefused(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AllowedHosts = []string{"seedbox.lan"} })
	body := []byte(`{"method":"session-get"}`)
	for host, want := range map[string]int{
		"evil.example":        http.StatusMisdirectedRequest,
		"evil.example:9091":   http.StatusMisdirectedRequest,
		"localhost.evil.com":  http.StatusMisdirectedRequest,
		"127.0.0.1:9091":      http.StatusConflict, // passes, then asks for the session id
		"localhost:9091":      http.StatusConflict,
		"[::1]:9091":          http.StatusConflict,
		"192.168.1.9":         http.StatusConflict,
		"SEEDBOX.lan:9091":    http.StatusConflict,
		"seedbox.lan.":        http.StatusConflict,
		"seedbox.lan.evil.io": http.StatusMisdirectedRequest,
	} {
		resp := h.post(body, map[string]string{"Host": host})
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
	if hostAllowed("", nil) || hostAllowed(":80", nil) {
		t.Error("an empty Host passes")
	}
	// The web UI and the debug pages are behind the same check.
	for _, p := range []string{"/", "/debug/processes", "/metrics"} {
		req, _ := http.NewRequest("GET", h.url+p, nil)
		req.Host = "attacker.example"
		resp, err := h.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("GET %s with a foreign Host: %d", p, resp.StatusCode)
		}
	}
}

// Without the session id, or with a wrong one, nothing runs: 409.
func TestSecurity_NoSessionID409(t *testing.T) {
	h := newHarness(t)
	fx := newFixture(t, 16<<10, nil, 1000)
	body := []byte(`{"method":"torrent-add","arguments":{"metainfo":"` + fx.b64() + `"}}`)
	for _, sid := range []string{"", "wrong", h.d.SessionID() + "x"} {
		h.sid = sid
		resp := h.post(body, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict || resp.Header.Get(SessionIDHeader) != h.d.SessionID() {
			t.Fatalf("session id %q: %d", sid, resp.StatusCode)
		}
	}
	if n := len(h.c.Torrents()); n != 0 {
		t.Fatalf("a request without the session id added %d torrents", n)
	}
}

// With a user set: no credentials or wrong ones get 401; failures in a
// row make the address wait (429, without checking) before it may try
// again; the right ones pass.
func TestSecurity_WrongPassword401(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.User, c.Password = "admin", "s3cret" })
	now := time.Unix(1_000_000, 0)
	h.d.auth.now = func() time.Time { return now }
	try := func(user, pass string) int {
		req, _ := http.NewRequest("POST", h.url+"/transmission/rpc", strings.NewReader(`{"method":"session-get"}`))
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := h.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Fatal("401 without a Basic challenge")
		}
		return resp.StatusCode
	}
	if got := try("", ""); got != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d", got)
	}
	if got := try("", ""); got != http.StatusUnauthorized {
		t.Fatalf("no credentials is a prompt, not a failure: %d", got)
	}
	if got := try("admin", "guess1"); got != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", got)
	}
	if got := try("admin", "s3cret"); got != http.StatusTooManyRequests {
		t.Fatalf("right password during the penalty: %d (it must not even be checked)", got)
	}
	now = now.Add(penalty(1))
	if got := try("admin", "guess2"); got != http.StatusUnauthorized {
		t.Fatalf("second wrong password: %d", got)
	}
	now = now.Add(penalty(2) - time.Millisecond)
	if got := try("root", "s3cret"); got != http.StatusTooManyRequests {
		t.Fatalf("just before the doubled penalty ends: %d", got)
	}
	now = now.Add(time.Millisecond)
	if got := try("admin", "s3cret"); got != http.StatusConflict {
		t.Fatalf("right password after the penalty: %d (want the session-id handshake)", got)
	}
	if got := try("admin", "nope"); got != http.StatusUnauthorized {
		t.Fatalf("a success forgets the failures: %d", got)
	}
	if penalty(1) != 250*time.Millisecond || penalty(3) != time.Second || penalty(100) != penaltyMax {
		t.Fatalf("penalties %v %v %v", penalty(1), penalty(3), penalty(100))
	}
}

// A body over the cap (a 16 MiB torrent in base64, plus room) is refused
// without being read in full.
func TestSecurity_HugeBodyRefused(t *testing.T) {
	h := newHarness(t)
	h.call("session-get", nil)
	huge := bytes.Repeat([]byte("A"), maxBody+1)
	body := append(append([]byte(`{"method":"torrent-add","arguments":{"metainfo":"`), huge...), `"}}`...)
	resp := h.post(body, nil)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(msg), "16 MiB") {
		t.Fatalf("huge body: %d %s", resp.StatusCode, msg)
	}
	// Just under the cap is read, and the torrent refused for its size.
	r := h.call("torrent-add", map[string]any{"metainfo": strings.Repeat("A", maxBody-1024)})
	if !strings.Contains(r.Result, "larger than 16 MiB") {
		t.Fatalf("a 17 MiB metainfo: %q", r.Result)
	}
}

// A non-loopback RPC address needs a user.
func TestSecurity_ListenNeedsAuth(t *testing.T) {
	h := newHarness(t)
	for _, addr := range []string{"0.0.0.0:9091", ":9091", "[::]:9091", "192.168.1.2:9091", "example.com:9091"} {
		if err := CheckListen(addr, false); !errors.Is(err, ErrNeedAuth) {
			t.Errorf("%s without auth: %v", addr, err)
		}
		if err := CheckListen(addr, true); err != nil {
			t.Errorf("%s with auth: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:9091", "[::1]:0", "localhost:9091", "127.1.2.3:1"} {
		if err := CheckListen(addr, false); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	cfg := h.cfg
	cfg.Client = h.c
	cfg.Listen = "0.0.0.0:0"
	if _, err := New(cfg); !errors.Is(err, ErrNeedAuth) {
		t.Fatalf("New on 0.0.0.0 without a user: %v", err)
	}
	// Serve checks the listener it is given too.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := New(Config{Client: h.c, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Shutdown(t.Context())
	if err := d2.Serve(ln); !errors.Is(err, ErrNeedAuth) {
		t.Fatalf("Serve on 0.0.0.0 without a user: %v", err)
	}
}

// "filename" paths are read only as torrent files: a file that is not one
// is refused without its content being shown; so are directories and
// files over the size cap.
func TestSecurity_FilenameReadOnlyAsTorrent(t *testing.T) {
	h := newHarness(t)
	secret := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(secret, []byte("root:x:0:0:TOPSECRET"), 0o600)
	big := filepath.Join(t.TempDir(), "big.torrent")
	f, _ := os.Create(big)
	f.Truncate(maxTorrentSize + 1)
	f.Close()
	fx := newFixture(t, 16<<10, nil, 5000)
	for path, want := range map[string]string{
		secret:                     "is not a valid torrent file",
		t.TempDir():                "not a regular file",
		big:                        "larger than a torrent may be",
		filepath.Join("/", "nope"): "cannot open",
	} {
		r := h.call("torrent-add", map[string]any{"filename": path})
		if !strings.Contains(r.Result, want) || strings.Contains(r.Result, "TOPSECRET") {
			t.Errorf("%s: %q, want %q", path, r.Result, want)
		}
	}
	a := h.ok("torrent-add", map[string]any{"filename": fx.path, "download-dir": fx.dir})
	if a["torrent-added"] == nil {
		t.Fatalf("a real .torrent path: %v", a)
	}
}

// The daemon fetches no URL unless its host is allowed; redirects must
// stay on allowed hosts.
func TestSecurity_NoURLFetchUnlessAllowed(t *testing.T) {
	fx := newFixture(t, 16<<10, nil, 5000)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/away" {
			http.Redirect(w, r, "http://localhost:1/x.torrent", http.StatusFound)
			return
		}
		w.Write(fx.raw)
	}))
	defer srv.Close()
	h := newHarness(t)
	r := h.call("torrent-add", map[string]any{"filename": srv.URL + "/x.torrent"})
	if !strings.Contains(r.Result, "fetches no URL") || hits.Load() != 0 {
		t.Fatalf("without an allow-list: %q, %d requests", r.Result, hits.Load())
	}
	h2 := newHarness(t, func(c *Config) { c.FetchAllow = []string{"127.0.0.1"} })
	if r := h2.call("torrent-add", map[string]any{"filename": srv.URL + "/away"}); !strings.Contains(r.Result, "not allowed") {
		t.Fatalf("a redirect off the allow-list: %q", r.Result)
	}
	a := h2.ok("torrent-add", map[string]any{"filename": srv.URL + "/x.torrent", "download-dir": fx.dir, "paused": true})
	if a["torrent-added"] == nil {
		t.Fatalf("an allowed URL: %v", a)
	}
}

// Pages carry headers that keep them from being framed or sniffed, and
// run only the daemon's own scripts.
func TestSecurity_Headers(t *testing.T) {
	h := newHarness(t)
	resp, err := h.hc.Get(h.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<title>effusion</title>") {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	hd := resp.Header
	if !strings.Contains(hd.Get("Content-Security-Policy"), "script-src 'self'") || hd.Get("X-Frame-Options") != "DENY" ||
		hd.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers %v", hd)
	}
	if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") {
		t.Fatal("the page refers to another site")
	}
	req, _ := http.NewRequest("DELETE", h.url+"/", nil)
	resp, err = h.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE /: %d", resp.StatusCode)
	}
}

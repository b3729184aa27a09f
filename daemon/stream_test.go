package daemon

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/streamhttp"
)

// paddedFixture is a torrent "show" of the given files (name, bytes) with
// 16 KiB pieces, each file but the last followed by a BEP 47 padding file
// up to the next piece: the torrent's file indexes (what /stream/ takes)
// differ from the RPC's, which leave padding files out.
func paddedFixture(t testing.TB, names []string, datas [][]byte) fixture {
	t.Helper()
	const pieceLen = 16 << 10
	fx := fixture{dir: t.TempDir()}
	var files []map[string]any
	var all []byte
	for i, name := range names {
		p := filepath.Join(fx.dir, "show", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, datas[i], 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, map[string]any{"length": int64(len(datas[i])), "path": []string{name}})
		all = append(all, datas[i]...)
		if pad := (pieceLen - len(all)%pieceLen) % pieceLen; pad > 0 && i < len(names)-1 {
			files = append(files, map[string]any{"attr": "p", "length": int64(pad), "path": []string{".pad", fmt.Sprint(pad)}})
			all = append(all, make([]byte, pad)...)
		}
	}
	var pieces []byte
	for off := 0; off < len(all); off += pieceLen {
		h := sha1.Sum(all[off:min(off+pieceLen, len(all))])
		pieces = append(pieces, h[:]...)
	}
	info, err := bencode.Marshal(map[string]any{"files": files, "name": "show", "piece length": int64(pieceLen), "pieces": pieces})
	if err != nil {
		t.Fatal(err)
	}
	if fx.raw, err = metainfo.EncodeTorrent(info, nil, nil); err != nil {
		t.Fatal(err)
	}
	if fx.mi, err = metainfo.Parse(fx.raw); err != nil {
		t.Fatal(err)
	}
	fx.path = filepath.Join(t.TempDir(), "show.torrent")
	if err := os.WriteFile(fx.path, fx.raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return fx
}

// startSeeder seeds fx from an in-process client uploading at most
// upRate bytes a second (0: unlimited), closed at cleanup.
func startSeeder(t testing.TB, fx fixture, upRate int) *client.Client {
	t.Helper()
	sc, err := client.New(context.Background(), client.Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0",
		UploadRate: upRate, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	tt, err := sc.Add(context.Background(), client.Spec{Torrent: fx.mi, Dir: fx.dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tt.Await(ctx); err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestStreamRoute: the daemon serves a torrent's files at /stream/ while
// it downloads (ranges, HEAD, the torrent's own file indexes, which
// torrent-get's "streams" gives), behind the Host check and Basic
// authentication but without the RPC's session id; other sites' pages may
// not load them, a link followed from elsewhere may; files other than
// audio and video are served sandboxed, none is cached.
func TestStreamRoute(t *testing.T) {
	video, subs := randomPayload(400_000), randomPayload(5_000)
	fx := paddedFixture(t, []string{"ep1.webm", "ep1.srt"}, [][]byte{video, subs})
	if len(fx.mi.Info.Files) != 3 {
		t.Fatalf("the fixture has %d files, want 3 (a padding file between)", len(fx.mi.Info.Files))
	}
	sc := startSeeder(t, fx, 200_000) // two seconds or so: the ranges below wait for their pieces
	h := newHarness(t, func(c *Config) { c.User, c.Password = "admin", "s3cret" })
	h.ok("torrent-add", map[string]any{"metainfo": fx.b64()})
	h.d.reg.byIDs(1).t.AddPeers(sc.Addr())

	tt := h.torrents(map[string]any{"ids": []int{1}, "fields": []string{"files", "streams"}})[0]
	ih := fx.mi.InfoHash
	videoPath, subsPath := streamhttp.Path(ih, 0, "ep1.webm"), streamhttp.Path(ih, 2, "ep1.srt")
	want := fmt.Sprintf(`[map[path:%s type:video/webm] map[path:%s type:application/x-subrip]]`, videoPath, subsPath)
	if got := fmt.Sprint(tt["streams"]); got != want {
		t.Fatalf("streams: %s, want %s", got, want)
	}

	type req struct {
		method, path string
		hdr          map[string]string
		noAuth       bool
	}
	do := func(r req) (*http.Response, []byte) {
		t.Helper()
		hr, _ := http.NewRequest(r.method, h.url+r.path, nil)
		if !r.noAuth {
			hr.SetBasicAuth("admin", "s3cret")
		}
		for k, v := range r.hdr {
			if k == "Host" {
				hr.Host = v
				continue
			}
			hr.Header.Set(k, v)
		}
		resp, err := h.hc.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: body: %v", r.method, r.path, err)
		}
		return resp, b
	}

	// A range near the end, while the torrent downloads: what a player
	// asks first to find a file's index.
	resp, b := do(req{"GET", videoPath, map[string]string{"Range": "bytes=390000-390099"}, false})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, video[390_000:390_100]) ||
		resp.Header.Get("Content-Range") != "bytes 390000-390099/400000" || resp.Header.Get("Content-Type") != "video/webm" {
		t.Fatalf("range: %s, %d bytes, %q %q", resp.Status, len(b), resp.Header.Get("Content-Range"), resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("a video served with CSP %q (the browser's own player needs none), nosniff %q", csp, resp.Header.Get("X-Content-Type-Options"))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", cc)
	}
	resp, b = do(req{"GET", subsPath, nil, false})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, subs) {
		t.Fatalf("the file after the padding: %s, %d bytes", resp.Status, len(b))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox;") {
		t.Fatalf("a file other than audio or video served without the sandbox: CSP %q", csp)
	}
	resp, b = do(req{"HEAD", videoPath, nil, false})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != "400000" || len(b) != 0 {
		t.Fatalf("HEAD: %s, length %q", resp.Status, resp.Header.Get("Content-Length"))
	}

	rng := map[string]string{"Range": "bytes=0-9"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"Range": "bytes=0-9"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		what string
		r    req
		want int
	}{
		{"no credentials", req{"GET", videoPath, rng, true}, http.StatusUnauthorized},
		{"a foreign Host", req{"GET", videoPath, with("Host", "evil.example:9091"), false}, http.StatusMisdirectedRequest},
		{"the page's own <video>", req{"GET", videoPath, with("Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "video"), false}, http.StatusPartialContent},
		{"a player typed in", req{"GET", videoPath, with("Sec-Fetch-Site", "none", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"), false}, http.StatusPartialContent},
		{"a link on another site", req{"GET", videoPath, with("Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"), false}, http.StatusPartialContent},
		{"another site's <video>", req{"GET", videoPath, with("Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "video"), false}, http.StatusForbidden},
		{"another port's <video>", req{"GET", videoPath, with("Sec-Fetch-Site", "same-site", "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "video"), false}, http.StatusForbidden},
		{"another site's frame", req{"GET", videoPath, with("Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "iframe"), false}, http.StatusForbidden},
		{"another origin's fetch", req{"GET", videoPath, with("Origin", "http://evil.example"), false}, http.StatusForbidden},
		{"a sandboxed page's fetch", req{"GET", videoPath, with("Origin", "null"), false}, http.StatusForbidden},
		{"a POST", req{"POST", videoPath, nil, false}, http.StatusMethodNotAllowed},
		{"a torrent the daemon lacks", req{"GET", streamhttp.Path([20]byte{1}, 0, "x.webm"), nil, false}, http.StatusNotFound},
		{"the padding file", req{"GET", streamhttp.Path(ih, 1, "x"), nil, false}, http.StatusNotFound},
	} {
		if resp, _ := do(c.r); resp.StatusCode != c.want {
			t.Errorf("%s: %s, want %d", c.what, resp.Status, c.want)
		}
	}
	// The same-origin fetch a page makes (with Origin) passes.
	resp, _ = do(req{"GET", videoPath, with("Origin", h.url, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors"), false})
	if resp.StatusCode != http.StatusPartialContent {
		t.Errorf("the page's own fetch: %s", resp.Status)
	}
}

// TestStreamShutdown: a player that stops reading (paused, its socket
// full) does not hold the daemon's Shutdown: the response's write is cut.
func TestStreamShutdown(t *testing.T) {
	big := randomPayload(24 << 20) // more than loopback's socket buffers hold
	fx := paddedFixture(t, []string{"film.mkv"}, [][]byte{big})
	h := newHarness(t)
	h.ok("torrent-add", map[string]any{"metainfo": fx.b64(), "download-dir": fx.dir})
	waitFor(t, 30*time.Second, "the data verified", func() bool {
		return h.d.reg.byIDs(1).t.Stats().State == client.Seeding
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", streamhttp.Path(fx.mi.InfoHash, 0, "film.mkv"))
	head := make([]byte, 64<<10)
	if _, err := io.ReadAtLeast(conn, head, len(head)); err != nil || !bytes.HasPrefix(head, []byte("HTTP/1.1 200 ")) {
		t.Fatalf("the response's start: %v %q", err, head[:min(len(head), 40)])
	}
	// The reader stops here; the server fills the socket and blocks.
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.d.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a stalled stream: %v", err)
	}
	if err := <-h.served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if err := h.c.Shutdown(ctx); err != nil {
		t.Fatalf("client shutdown: %v", err)
	}
	h.hc.CloseIdleConnections()
	h.d = nil // stopped
}

// randomPayload is n bytes of a fixed pseudo-random sequence.
func randomPayload(n int) []byte {
	b := make([]byte, n)
	x := uint32(2654435761)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

package streamhttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/client"
)

// response is what a test compares of an HTTP response.
type response struct {
	status  int
	headers map[string]string
	body    []byte
	parts   []string // a multipart body's parts: Content-Range and bytes
}

var comparedHeaders = []string{"Content-Type", "Content-Length", "Content-Range", "Etag", "Accept-Ranges"}

func fetch(t *testing.T, url, method string, hdr map[string]string) response {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %v: body: %v", method, hdr, err)
	}
	r := response{status: resp.StatusCode, headers: map[string]string{}, body: body}
	for _, h := range comparedHeaders {
		r.headers[h] = resp.Header.Get(h)
	}
	if mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil && mt == "multipart/byteranges" {
		// Boundaries are random: compare the parts and the type alone.
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			r.parts = append(r.parts, p.Header.Get("Content-Range")+" "+p.Header.Get("Content-Type")+" "+string(b))
		}
		r.body, r.headers["Content-Type"], r.headers["Content-Length"] = nil, mt, ""
	}
	return r
}

// TestRangeSemantics: the handler answers what net/http's ServeContent
// answers over the same bytes (with the same type and ETag), for plain,
// ranged, multi-range, unsatisfiable and conditional GETs and HEADs,
// while the torrent downloads.
func TestRangeSemantics(t *testing.T) {
	const size = 1_000_003
	pl := newPayload(t, 32<<10, []string{"a.webm", "sub/b.bin"}, [][]byte{randomBytes(size), randomBytes(70_001)})
	sd := seed(t, pl)
	c := newClient(t, client.Config{DownloadRate: 1 << 20}) // a second or so: ranges wait
	tt, err := c.Add(context.Background(), client.Spec{Torrent: pl.mi, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tt.AddPeers(sd.Addr())
	ours := httptest.NewServer(Handler(c))
	defer ours.Close()
	etag := ETag(pl.mi.InfoHash, 0)
	ref := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/webm")
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "a.webm", time.Time{}, bytes.NewReader(pl.data[0]))
	}))
	defer ref.Close()
	path := Path(pl.mi.InfoHash, 0, "a.webm")
	head, err := http.Head(ours.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if cc := head.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store (no copy left in the browser's cache)", cc)
	}
	cases := []struct {
		method string
		hdr    map[string]string
		status int
	}{
		{"GET", map[string]string{"Range": "bytes=900000-900009"}, 206},
		{"GET", map[string]string{"Range": "bytes=0-0"}, 206},
		{"GET", map[string]string{"Range": "bytes=-500"}, 206},
		{"GET", map[string]string{"Range": "bytes=123456-"}, 206},
		{"GET", map[string]string{"Range": "bytes=100000-300000"}, 206},
		{"GET", map[string]string{"Range": fmt.Sprintf("bytes=%d-", size)}, 416},
		{"GET", map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", size+10, size+20)}, 416},
		{"GET", map[string]string{"Range": "bytes=5-1"}, 416},
		{"GET", map[string]string{"Range": "bytes=0-9,500000-500019,-7"}, 206},
		{"GET", map[string]string{"Range": "bytes=999990-2000000"}, 206},
		{"GET", nil, 200},
		{"HEAD", nil, 200},
		{"HEAD", map[string]string{"Range": "bytes=10-19"}, 206},
		{"GET", map[string]string{"If-None-Match": etag}, 304},
		{"GET", map[string]string{"If-None-Match": `"other"`, "Range": "bytes=1-2"}, 206},
		{"GET", map[string]string{"If-Range": etag, "Range": "bytes=1000-1999"}, 206},
		{"GET", map[string]string{"If-Range": `"stale"`, "Range": "bytes=1000-1999"}, 200},
	}
	for _, tc := range cases {
		got := fetch(t, ours.URL+path, tc.method, tc.hdr)
		want := fetch(t, ref.URL, tc.method, tc.hdr)
		name := fmt.Sprintf("%s %v", tc.method, tc.hdr)
		if got.status != tc.status || want.status != tc.status {
			t.Errorf("%s: status %d, net/http %d, want %d", name, got.status, want.status, tc.status)
		}
		for _, h := range comparedHeaders {
			if got.headers[h] != want.headers[h] {
				t.Errorf("%s: %s %q, net/http %q", name, h, got.headers[h], want.headers[h])
			}
		}
		if !bytes.Equal(got.body, want.body) {
			t.Errorf("%s: body of %d bytes differs from net/http's %d", name, len(got.body), len(want.body))
		}
		if strings.Join(got.parts, "\x00") != strings.Join(want.parts, "\x00") {
			t.Errorf("%s: multipart parts differ (%d, net/http %d)", name, len(got.parts), len(want.parts))
		}
	}
}

// TestHandlerPaths: the handler's answers to paths and methods it does not
// serve, and the second file by its path with a name.
func TestHandlerPaths(t *testing.T) {
	pl := newPayload(t, 16<<10, []string{"a.mkv", "b c.srt"}, [][]byte{randomBytes(40_000), randomBytes(1_000)})
	c := seed(t, pl)
	srv := httptest.NewServer(Handler(c))
	defer srv.Close()
	ih := fmt.Sprintf("%x", pl.mi.InfoHash)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/stream/" + ih + "/2", 404},
		{"GET", "/stream/" + strings.Repeat("0", 40) + "/0", 404},
		{"GET", "/stream/" + ih[:39] + "/0", 400},
		{"GET", "/stream/" + ih + "/x", 400},
		{"GET", "/stream/" + ih + "/-1", 400},
		{"GET", "/stream/" + ih, 400},
		{"GET", "/other/" + ih + "/0", 400},
		{"POST", "/stream/" + ih + "/0", 405},
		{"GET", "/stream/" + strings.ToUpper(ih) + "/0", 200},
		{"GET", "/stream/" + ih + "/0/anything.mkv", 200},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		if tc.status == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("405 without Allow: %q", resp.Header.Get("Allow"))
		}
	}
	got := fetch(t, srv.URL+Path(pl.mi.InfoHash, 1, "b c.srt"), "GET", nil)
	if got.status != 200 || !bytes.Equal(got.body, pl.data[1]) || got.headers["Content-Type"] != "application/x-subrip" {
		t.Fatalf("the second file: %d, %d bytes, %q", got.status, len(got.body), got.headers["Content-Type"])
	}
	if p := Path(pl.mi.InfoHash, 1, "b c.srt"); !strings.HasSuffix(p, "/1/b%20c.srt") {
		t.Fatalf("Path: %s", p)
	}
}

// TestRequestGoneEndsRead: a request waiting for bytes that do not come
// (no peers) ends when the client goes away: the read waiting for them
// sees the request's context end, and the handler returns.
func TestRequestGoneEndsRead(t *testing.T) {
	pl := newPayload(t, 16<<10, []string{"a.mp4"}, [][]byte{randomBytes(100_000)})
	c := newClient(t, client.Config{})
	if _, err := c.Add(context.Background(), client.Spec{Torrent: pl.mi, Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	h := Handler(c)
	started, finished := make(chan struct{}, 1), make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		defer func() { finished <- struct{}{} }()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-started
		time.Sleep(100 * time.Millisecond) // the handler waits for bytes
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+Path(pl.mi.InfoHash, 0, ""), nil)
	req.Header.Set("Range", "bytes=50000-")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		// Headers may come first; the body cannot.
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a body with no peer to send it")
	}
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler still runs after its request went away")
	}
}

// TestMagnetServedOnceKnown: a request for a torrent added from a magnet
// waits for the metadata, then gets the file.
func TestMagnetServedOnceKnown(t *testing.T) {
	pl := newPayload(t, 16<<10, []string{"m.webm"}, [][]byte{randomBytes(200_000)})
	sd := seed(t, pl)
	c := newClient(t, client.Config{})
	tt, err := c.Add(context.Background(), client.Spec{Magnet: fmt.Sprintf("%x", pl.mi.InfoHash), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(c))
	defer srv.Close()
	go func() {
		time.Sleep(50 * time.Millisecond)
		tt.AddPeers(sd.Addr())
	}()
	got := fetch(t, srv.URL+Path(pl.mi.InfoHash, 0, "m.webm"), "GET", map[string]string{"Range": "bytes=100000-"})
	if got.status != 206 || !bytes.Equal(got.body, pl.data[0][100_000:]) {
		t.Fatalf("a magnet's file: %d, %d bytes", got.status, len(got.body))
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"a.MKV": "video/x-matroska", "b.webm": "video/webm", "c.mp4": "video/mp4", "d.flac": "audio/flac",
		"e.vtt": "text/vtt; charset=utf-8", "f": "application/octet-stream", "g.unknownext": "application/octet-stream",
	} {
		if got := ContentType(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

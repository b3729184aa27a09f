package webseed

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestFault404: a file missing on the server makes the pieces it overlaps
// unservable, no more requests go for them, and the rest still comes.
func TestFault404(t *testing.T) {
	root := t.TempDir()
	mi, stream := makeTorrent(t, root, "album", 32<<10, multiFiles()...)
	missing := 10 // "media/Vidéos d'été/file 09 ü.bin": 16 KiB + 9 bytes
	fs := http.FileServer(http.Dir(root))
	srv, rec := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "file 09 ü.bin") {
			http.NotFound(w, r)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	s := newSeed(t, &mi.Info, srv.URL+"/", Config{})
	f := mi.Info.Files[missing]
	if !strings.HasSuffix(f.Path[len(f.Path)-1], "file 09 ü.bin") {
		t.Fatalf("file %d is %v", missing, f.Path)
	}
	bad := map[int]bool{}
	for p := f.Offset / mi.Info.PieceLength; p <= (f.Offset+f.Length-1)/mi.Info.PieceLength; p++ {
		bad[int(p)] = true
	}
	first := int(f.Offset / mi.Info.PieceLength)
	_, err := s.FetchPieces(context.Background(), first, 1, blocksFor(mi.Info.PieceLen(first)), nil)
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.File != missing || !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrStatus) {
		t.Fatalf("piece %d: %v", first, err)
	}
	if st := s.Stats(); st.State != Active || st.Unservable != len(bad) || st.Errors != 1 {
		t.Fatalf("after a 404: %+v (want active, %d unservable)", st, len(bad))
	}
	if s.AllServable() {
		t.Fatal("AllServable after a 404")
	}
	bf := s.AppendBitfield(nil)
	earlier, _, _ := rec.snapshot()
	before := len(earlier)
	for i := range mi.Info.NumPieces() {
		has := bf[i/8]&(0x80>>(i%8)) != 0
		if has == bad[i] || s.Servable(i) == bad[i] {
			t.Fatalf("piece %d: bitfield %v, servable %v, unservable %v", i, has, s.Servable(i), bad[i])
		}
		bufs := blocksFor(mi.Info.PieceLen(i))
		_, err := s.FetchPieces(context.Background(), i, 1, bufs, nil)
		if bad[i] {
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("piece %d: %v", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		off := int64(i) * mi.Info.PieceLength
		if !bytes.Equal(bytes.Join(bufs, nil), stream[off:off+mi.Info.PieceLen(i)]) {
			t.Fatalf("piece %d differs", i)
		}
	}
	paths, _, _ := rec.snapshot()
	for _, p := range paths[before:] {
		if strings.HasSuffix(p, "file 09 ü.bin") {
			t.Fatal("the missing file was asked for again")
		}
	}
	if st := s.Stats(); st.State != Active {
		t.Fatalf("a 404 backed the seed off: %+v", st)
	}
}

// TestFault5xx: a server error backs the seed off; no request is sent
// while it lasts.
func TestFault5xx(t *testing.T) {
	root := t.TempDir()
	mi, _ := makeTorrent(t, root, "x.bin", 16<<10, tfile{data: randomData(1, 100000)})
	srv, rec := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	s := newSeed(t, &mi.Info, srv.URL+"/x.bin", Config{BackoffMin: time.Hour})
	_, err := s.FetchPieces(context.Background(), 0, 1, blocksFor(16<<10), nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 503 {
		t.Fatalf("%v", err)
	}
	st := s.Stats()
	if st.State != BackingOff || st.Failures != 1 || st.Errors != 1 || st.RetryAt.IsZero() {
		t.Fatalf("%+v", st)
	}
	_, err = s.FetchPieces(context.Background(), 1, 1, blocksFor(16<<10), nil)
	var be *BackoffError
	if !errors.As(err, &be) || !errors.Is(err, ErrBackingOff) || !be.Until.Equal(st.RetryAt) {
		t.Fatalf("during backoff: %v", err)
	}
	if paths, _, _ := rec.snapshot(); len(paths) != 1 {
		t.Fatalf("%d requests", len(paths))
	}
}

// ignoresRange serves files like a server without range support: always
// 200 and the whole file.
func ignoresRange(root string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, &http.Request{Method: "GET", URL: r.URL, Header: http.Header{}}, "", time.Time{},
			openOrNil(root, r.URL.Path))
	})
}

func openOrNil(root, p string) io.ReadSeeker {
	f, err := http.Dir(root).Open(p)
	if err != nil {
		return strings.NewReader("")
	}
	b, _ := io.ReadAll(f)
	f.Close()
	return bytes.NewReader(b)
}

// TestFaultRangeIgnored: a 200 with the whole file: the bytes asked for
// are read from the right offset and the rest is not read; beyond MaxSkip
// the file becomes unavailable.
func TestFaultRangeIgnored(t *testing.T) {
	root := t.TempDir()
	mi, stream := makeTorrent(t, root, "big.bin", 16<<10, tfile{data: randomData(3, 1<<20)})
	srv, rec := serve(t, ignoresRange(root))
	s := newSeed(t, &mi.Info, srv.URL+"/", Config{MaxSkip: 256 << 10})
	for _, i := range []int{0, 5, 16} {
		if got := fetchPiece(t, s, mi, i); !bytes.Equal(got, stream[i*16<<10:(i+1)*16<<10]) {
			t.Fatalf("piece %d differs", i)
		}
	}
	st := s.Stats()
	if st.Wasted != (5+16)*16<<10 || st.Bytes != 3*16<<10 || st.State != Active {
		t.Fatalf("%+v", st)
	}
	// Each answer was cut short, so its connection was closed.
	if _, _, conns := rec.snapshot(); conns != 3 {
		t.Fatalf("%d connections for 3 requests answered with whole files", conns)
	}
	_, err := s.FetchPieces(context.Background(), 17, 1, blocksFor(16<<10), nil)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrRangeIgnored) {
		t.Fatalf("beyond MaxSkip: %v", err)
	}
	// Bytes [0, 256 KiB) stay servable: pieces 0-15.
	for i := range mi.Info.NumPieces() {
		if s.Servable(i) != (i < 16) {
			t.Fatalf("piece %d servable %v", i, s.Servable(i))
		}
	}
}

// rangeHandler answers every request for the file with what respond
// writes, given the range asked for.
func rangeHandler(respond func(w http.ResponseWriter, first, last int64)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var first, last int64
		if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &first, &last); err != nil {
			http.Error(w, "no range", 400)
			return
		}
		respond(w, first, last)
	})
}

func TestFaultBodies(t *testing.T) {
	root := t.TempDir()
	data := randomData(4, 200000)
	mi, _ := makeTorrent(t, root, "f.bin", 16<<10, tfile{data: data})
	size := int64(len(data))
	cr := func(w http.ResponseWriter, a, b, total int64) {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, total))
	}
	cases := []struct {
		name    string
		respond func(w http.ResponseWriter, a, b int64)
		want    error
	}{
		{"short body", func(w http.ResponseWriter, a, b int64) {
			cr(w, a, b, size)
			w.Header().Set("Content-Length", strconv.FormatInt(b-a+1, 10))
			w.WriteHeader(206)
			w.Write(data[a : b-100])
		}, ErrShortBody},
		{"short content-length", func(w http.ResponseWriter, a, b int64) {
			cr(w, a, b, size)
			w.Header().Set("Content-Length", strconv.FormatInt(b-a, 10))
			w.WriteHeader(206)
			w.Write(data[a:b])
		}, ErrShortBody},
		{"long content-length", func(w http.ResponseWriter, a, b int64) {
			cr(w, a, b, size)
			w.Header().Set("Content-Length", strconv.FormatInt(b-a+2, 10))
			w.WriteHeader(206)
			w.Write(data[a : b+2])
		}, ErrLongBody},
		{"long chunked body", func(w http.ResponseWriter, a, b int64) {
			cr(w, a, b, size)
			w.WriteHeader(206)
			w.(http.Flusher).Flush() // chunked: no Content-Length
			w.Write(data[a : b+1])
			w.Write(bytes.Repeat([]byte{0xee}, 100000))
		}, ErrLongBody},
		{"other range", func(w http.ResponseWriter, a, b int64) {
			cr(w, a+1, b+1, size)
			w.WriteHeader(206)
			w.Write(data[a+1 : b+2])
		}, ErrBadResponse},
		{"malformed content-range", func(w http.ResponseWriter, a, b int64) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes=%d-%d/%d", a, b, size))
			w.WriteHeader(206)
		}, ErrBadResponse},
		{"compressed", func(w http.ResponseWriter, a, b int64) {
			cr(w, a, b, size)
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(206)
			w.Write(data[a : b+1])
		}, ErrBadResponse},
		{"forbidden", func(w http.ResponseWriter, a, b int64) { w.WriteHeader(403) }, ErrStatus},
		{"redirect without location", func(w http.ResponseWriter, a, b int64) { w.WriteHeader(302) }, ErrStatus},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := serve(t, rangeHandler(c.respond))
			s := newSeed(t, &mi.Info, srv.URL+"/f.bin", Config{})
			arena := bytes.Repeat([]byte{0xab}, 3*16<<10)
			bufs := [][]byte{arena[: 16<<10 : 16<<10], arena[16<<10 : 32<<10 : 32<<10]}
			n, err := s.Fetch(context.Background(), 16<<10, bufs, nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if n > 32<<10 || !bytes.Equal(arena[32<<10:], bytes.Repeat([]byte{0xab}, 16<<10)) {
				t.Fatalf("read beyond the buffers (n %d)", n)
			}
			if st := s.Stats(); st.State != BackingOff || st.Errors != 1 {
				t.Fatalf("%+v", st)
			}
		})
	}
}

// TestFaultOtherFile: a server whose file has another size is not a
// source of that file.
func TestFaultOtherFile(t *testing.T) {
	root := t.TempDir()
	data := randomData(4, 100000)
	mi, _ := makeTorrent(t, root, "f.bin", 16<<10, tfile{data: data})
	srv, _ := serve(t, rangeHandler(func(w http.ResponseWriter, a, b int64) {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, 100001))
		w.WriteHeader(206)
		w.Write(data[a : b+1])
	}))
	s := newSeed(t, &mi.Info, srv.URL+"/f.bin", Config{})
	_, err := s.Fetch(context.Background(), 0, blocksFor(100), nil)
	if !errors.Is(err, ErrUnavailable) || s.AllServable() || s.Stats().Unservable != mi.Info.NumPieces() {
		t.Fatalf("%v, %+v", err, s.Stats())
	}
}

// TestFaultWrongData: bad bytes pass through (the caller verifies) and
// MaxStrikes strikes drop the seed, cancelling what is in flight.
func TestFaultWrongData(t *testing.T) {
	root := t.TempDir()
	mi, _ := makeTorrent(t, root, "f.bin", 16<<10, tfile{data: randomData(5, 100000)})
	fs := http.FileServer(http.Dir(root))
	stall := make(chan struct{})
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") == "bytes=81920-98303" {
			w.Header().Set("Content-Range", "bytes 81920-98303/100000")
			w.WriteHeader(206)
			w.(http.Flusher).Flush()
			select {
			case <-stall:
			case <-r.Context().Done():
			}
			return
		}
		fs.ServeHTTP(&flipper{ResponseWriter: w}, r)
	}))
	s := newSeed(t, &mi.Info, srv.URL+"/f.bin", Config{})
	inflight := make(chan error, 1)
	go func() {
		_, err := s.FetchPieces(context.Background(), 5, 1, blocksFor(mi.Info.PieceLen(5)), nil)
		inflight <- err
	}()
	for i := range 3 {
		bufs := blocksFor(16 << 10)
		if _, err := s.FetchPieces(context.Background(), i, 1, bufs, nil); err != nil {
			t.Fatal(err)
		}
		if sha1.Sum(bufs[0]) == mi.Info.Pieces[i] {
			t.Fatal("the flipper did not flip")
		}
		if dropped := s.Strike(); dropped != (i == 2) {
			t.Fatalf("strike %d: dropped %v", i+1, dropped)
		}
	}
	if err := <-inflight; !errors.Is(err, ErrDropped) || !errors.Is(err, ErrBadData) {
		t.Fatalf("in flight: %v", err)
	}
	close(stall)
	if _, err := s.FetchPieces(context.Background(), 3, 1, blocksFor(16<<10), nil); !errors.Is(err, ErrDropped) {
		t.Fatalf("after the drop: %v", err)
	}
	if st := s.Stats(); st.State != Dropped || st.Strikes != 3 || !errors.Is(st.DropReason, ErrBadData) || st.Errors != 0 {
		t.Fatalf("%+v", st)
	}
}

// flipper corrupts the first byte of every body.
type flipper struct {
	http.ResponseWriter
	done bool
}

func (f *flipper) Write(b []byte) (int, error) {
	if !f.done && len(b) > 0 {
		f.done = true
		c := append([]byte(nil), b...)
		c[0] ^= 0xff
		return f.ResponseWriter.Write(c)
	}
	return f.ResponseWriter.Write(b)
}

func TestFaultRedirects(t *testing.T) {
	root := t.TempDir()
	mi, stream := makeTorrent(t, root, "f.bin", 16<<10, tfile{data: randomData(6, 50000)})
	fs := http.FileServer(http.Dir(root))
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /hop/N/f.bin redirects N times before reaching the file.
		if rest, ok := strings.CutPrefix(r.URL.Path, "/hop/"); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, '/')])
			if n == 0 {
				r.URL.Path = "/f.bin"
				fs.ServeHTTP(w, r)
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/hop/%d/f.bin", n-1), http.StatusFound)
			return
		}
		if r.URL.Path == "/ftp/f.bin" {
			http.Redirect(w, r, "ftp://127.0.0.1/f.bin", http.StatusMovedPermanently)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	ok := newSeed(t, &mi.Info, srv.URL+"/hop/5/f.bin", Config{})
	if got := fetchPiece(t, ok, mi, 1); !bytes.Equal(got, stream[16<<10:32<<10]) {
		t.Fatal("differs after 5 redirects")
	}
	if st := ok.Stats(); st.Wasted != 0 || st.Requests != 1 {
		t.Fatalf("the Range header was lost on the way: %+v", st)
	}
	for _, c := range []struct {
		path string
		cfg  Config
	}{{"/hop/6/f.bin", Config{}}, {"/hop/1/f.bin", Config{MaxRedirects: -1}}, {"/ftp/f.bin", Config{}}} {
		s := newSeed(t, &mi.Info, srv.URL+c.path, c.cfg)
		_, err := s.Fetch(context.Background(), 0, blocksFor(10), nil)
		if !errors.Is(err, ErrTooManyRedirects) || s.Stats().State != BackingOff {
			t.Fatalf("%s: %v", c.path, err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRedirectPublicToPrivateRefused: the tracker client's rule: a seed on
// a public address is not led to a loopback one.
func TestRedirectPublicToPrivateRefused(t *testing.T) {
	var reachedPrivate atomic.Bool
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Hostname() != "8.8.8.8" {
			reachedPrivate.Store(true)
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
		}
		h := http.Header{}
		h.Set("Location", "http://127.0.0.1:8080/f.bin")
		return &http.Response{StatusCode: http.StatusFound, Header: h, Body: http.NoBody, Request: r}, nil
	})
	mi, _ := makeTorrent(t, t.TempDir(), "f.bin", 16<<10, tfile{data: randomData(6, 500)})
	s := newSeed(t, &mi.Info, "http://8.8.8.8/f.bin", Config{Transport: rt})
	_, err := s.Fetch(context.Background(), 0, blocksFor(10), nil)
	if !errors.Is(err, ErrForbiddenAddress) || reachedPrivate.Load() {
		t.Fatalf("err %v, reached private %v", err, reachedPrivate.Load())
	}
}

// TestDialGuard: the seed's own transport checks every dialled address, so
// a public origin cannot reach loopback through a DNS name either; a
// loopback origin may.
func TestDialGuard(t *testing.T) {
	var hit atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
	defer srv.Close()
	g := &addrGuard{}
	if err := g.check(netip.MustParseAddr("8.8.8.8")); err != nil {
		t.Fatal(err)
	}
	tr := newTransport(g, 4)
	defer tr.CloseIdleConnections()
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	r, _ := http.NewRequest("GET", u, nil)
	if _, err := tr.RoundTrip(r); !errors.Is(err, ErrForbiddenAddress) || hit.Load() {
		t.Fatalf("err %v hit %v", err, hit.Load())
	}
	tr2 := newTransport(&addrGuard{}, 4)
	defer tr2.CloseIdleConnections()
	resp, err := tr2.RoundTrip(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !hit.Load() {
		t.Fatal("loopback origin could not reach loopback")
	}
}

// TestFaultTimeoutReal: a server that sends headers and then nothing fails
// the request after Timeout (wall clock; the exact timing is checked under
// synctest in TestTimeoutExact).
func TestFaultTimeoutReal(t *testing.T) {
	mi, _ := makeTorrent(t, t.TempDir(), "f.bin", 16<<10, tfile{data: randomData(6, 50000)})
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", "bytes 0-99/50000")
		w.WriteHeader(206)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	s := newSeed(t, &mi.Info, srv.URL+"/f.bin", Config{Timeout: 100 * time.Millisecond})
	_, err := s.Fetch(context.Background(), 0, blocksFor(100), nil)
	if !errors.Is(err, ErrTimeout) || s.Stats().State != BackingOff {
		t.Fatalf("%v, %+v", err, s.Stats())
	}
}

// TestCallerCancel: a caller giving up costs the seed nothing.
func TestCallerCancel(t *testing.T) {
	mi, _ := makeTorrent(t, t.TempDir(), "f.bin", 16<<10, tfile{data: randomData(6, 50000)})
	started := make(chan struct{})
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}))
	s := newSeed(t, &mi.Info, srv.URL+"/f.bin", Config{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	if _, err := s.Fetch(ctx, 0, blocksFor(100), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
	if st := s.Stats(); st.State != Active || st.Errors != 0 || st.Failures != 0 {
		t.Fatalf("%+v", st)
	}
}

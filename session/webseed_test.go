package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/webseed"
)

// Web seeds driven by the session: downloads from web seeds alone, served
// by Go's http.FileServer on loopback (it honours Range), and every fault
// of a misbehaving server beside a good one.

// manyFiles is a multi-file payload: 20 files in 3 directories, an empty
// one, names with spaces, non-ASCII letters and URL metacharacters.
func manyFiles() []testFile {
	dirs := []string{"alpha", "beta gamma", "Ünïcödé δ"}
	var fs []testFile
	for i := range 20 {
		name := fmt.Sprintf("file %02d é.bin", i)
		switch i {
		case 3:
			name = "what? #1 100%.txt"
		case 11:
			name = "日本語 ファイル"
		}
		size := 9000 + i*13331
		if i == 7 {
			size = 0
		}
		fs = append(fs, testFile{path: []string{dirs[i%3], name}, data: randomData(uint64(200+i), size)})
	}
	return fs
}

// webTorrent writes files under a fresh directory served over HTTP and
// returns the torrent and that directory.
func webTorrent(t testing.TB, name string, pieceLen int64, files ...testFile) (*metainfo.MetaInfo, string) {
	t.Helper()
	www := t.TempDir()
	mi, _ := makeTorrent(t, www, name, pieceLen, "", files...)
	return mi, www
}

// serveHTTP starts a loopback server for h, closed at the test's end.
func serveHTTP(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// fastSeeds are web seed settings for tests: short timeouts and backoffs.
var fastSeeds = webseed.Config{Timeout: 500 * time.Millisecond, BackoffMin: 50 * time.Millisecond, BackoffMax: 400 * time.Millisecond}

// counting counts the requests a handler serves.
type counting struct {
	h http.Handler
	n atomic.Int64
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h.ServeHTTP(w, r)
}

// throttled writes the body in 16 KiB pieces at about bps bytes per second.
type throttled struct {
	http.ResponseWriter
	bps int
}

func (w throttled) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), 16<<10)
		m, err := w.ResponseWriter.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		time.Sleep(time.Duration(k) * time.Second / time.Duration(w.bps))
		b = b[k:]
	}
	return n, nil
}

func throttle(h http.Handler, bps int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(throttled{w, bps}, r) })
}

// seedStats returns the stats of the seed whose URL starts with prefix.
func seedStats(t testing.TB, st Stats, prefix string) WebSeedStats {
	t.Helper()
	for _, ws := range st.WebSeeds {
		if strings.HasPrefix(ws.URL, prefix) {
			return ws
		}
	}
	t.Fatalf("no web seed %s in %+v", prefix, st.WebSeeds)
	return WebSeedStats{}
}

// TestWebSeedOnly: no peer, no tracker, only the torrent's url-list on
// http.FileServer: the download is byte-identical and every byte came
// from the web seed.
func TestWebSeedOnly(t *testing.T) {
	cases := []struct {
		name  string
		files []testFile
		path  string // the web seed's path on the server
	}{
		{"single file.bin", []testFile{{data: randomData(7, 3<<20+12345)}}, "/single%20file.bin"},
		{"multi dir ü", manyFiles(), "/"},
	}
	for _, c := range cases {
		t.Run(strings.Fields(c.name)[0], func(t *testing.T) {
			mi, www := webTorrent(t, c.name, 64<<10, c.files...)
			srv := serveHTTP(t, http.FileServer(http.Dir(www)))
			mi.URLList = []string{srv.URL + c.path}
			dir := t.TempDir()
			s := startSession(t, Config{Torrent: mi, Dir: dir})
			awaitOrFail(t, s, 60*time.Second)
			samePayload(t, mi, www, dir)
			st := s.Stats()
			total := mi.Info.TotalLength()
			if st.WebSeedDownloaded < total || st.Downloaded < st.WebSeedDownloaded || st.Peers != 0 {
				t.Fatalf("downloaded %d, from web seeds %d, of %d; %d peers", st.Downloaded, st.WebSeedDownloaded, total, st.Peers)
			}
			if ws := seedStats(t, st, srv.URL); ws.Downloaded < total || ws.Requests == 0 || ws.State == WebSeedDropped {
				t.Fatalf("%+v", ws)
			}
		})
	}
}

// faultCase is one misbehaving web seed.
type faultCase struct {
	name string
	// bad serves the payload (fs) badly; the good seed, throttled, serves
	// it well unless alone is set (the bad one must then recover).
	bad   func(t *testing.T, fs http.Handler, good string) http.Handler
	alone bool
	cfg   webseed.Config
	check func(t *testing.T, ws WebSeedStats)
}

// TestWebSeedFaults: each fault of a misbehaving server, at the session
// level: the download completes, byte-identical, from the good sources
// (or from the faulty one once it recovers), and the faulty seed's stats
// say what happened.
func TestWebSeedFaults(t *testing.T) {
	wantErr := func(target error) func(*testing.T, WebSeedStats) {
		return func(t *testing.T, ws WebSeedStats) {
			if ws.Errors == 0 || !errors.Is(ws.LastError, target) {
				t.Fatalf("want an error wrapping %v: %+v", target, ws)
			}
		}
	}
	cases := []faultCase{{
		name: "404 for a file",
		bad: func(t *testing.T, fs http.Handler, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/file 04 é.bin") {
					http.NotFound(w, r)
					return
				}
				fs.ServeHTTP(w, r)
			})
		},
		check: func(t *testing.T, ws WebSeedStats) {
			if ws.Unservable == 0 || ws.State == WebSeedDropped || !errors.Is(ws.LastError, webseed.ErrUnavailable) {
				t.Fatalf("the 404 seed should lack some pieces and stay: %+v", ws)
			}
		},
	}, {
		name:  "5xx then recovery",
		alone: true,
		bad: func(t *testing.T, fs http.Handler, _ string) http.Handler {
			var n atomic.Int64
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) <= 6 {
					http.Error(w, "busy", http.StatusServiceUnavailable)
					return
				}
				fs.ServeHTTP(w, r)
			})
		},
		check: wantErr(webseed.ErrStatus),
	}, {
		name:  "timeout then recovery",
		alone: true,
		cfg:   webseed.Config{Timeout: 200 * time.Millisecond},
		bad: func(t *testing.T, fs http.Handler, _ string) http.Handler {
			var n atomic.Int64
			done := make(chan struct{})
			t.Cleanup(func() { close(done) })
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) <= 3 {
					select { // never answers: the seed times out
					case <-r.Context().Done():
					case <-done:
					}
					return
				}
				fs.ServeHTTP(w, r)
			})
		},
		check: wantErr(webseed.ErrTimeout),
	}, {
		name:  "200 with the whole file",
		alone: true,
		bad: func(t *testing.T, fs http.Handler, _ string) http.Handler {
			var n atomic.Int64
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Range") != "" {
					n.Add(1)
				}
				r.Header.Del("Range") // ignore it
				fs.ServeHTTP(w, r)
			})
		},
		check: func(t *testing.T, ws WebSeedStats) {
			if ws.State == WebSeedDropped || ws.Downloaded == 0 {
				t.Fatalf("%+v", ws)
			}
		},
	}, {
		name: "short bodies",
		bad: func(t *testing.T, fs http.Handler, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fs.ServeHTTP(&cutWriter{ResponseWriter: w, left: 1000}, r)
			})
		},
		check: wantErr(webseed.ErrShortBody),
	}, {
		name: "long bodies",
		bad: func(t *testing.T, fs http.Handler, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				lw := &longWriter{ResponseWriter: w}
				fs.ServeHTTP(lw, r)
				w.Write([]byte("and some bytes more than asked"))
			})
		},
		check: wantErr(webseed.ErrLongBody),
	}, {
		name: "wrong data",
		bad: func(t *testing.T, fs http.Handler, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fs.ServeHTTP(flipWriter{w}, r)
			})
		},
		check: func(t *testing.T, ws WebSeedStats) {
			if ws.State != WebSeedDropped || ws.Strikes != webseed.DefaultMaxStrikes || !errors.Is(ws.LastError, webseed.ErrBadData) {
				t.Fatalf("the lying seed should be dropped after %d strikes: %+v", webseed.DefaultMaxStrikes, ws)
			}
		},
	}, {
		name:  "redirect to a good server",
		alone: true,
		bad: func(t *testing.T, _ http.Handler, good string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, good+r.URL.EscapedPath(), http.StatusFound)
			})
		},
		check: func(t *testing.T, ws WebSeedStats) {
			if ws.Downloaded == 0 || ws.Errors != 0 {
				t.Fatalf("%+v", ws)
			}
		},
	}, {
		name: "redirect loop",
		bad: func(t *testing.T, _ http.Handler, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.EscapedPath()+"x", http.StatusFound)
			})
		},
		check: wantErr(webseed.ErrTooManyRedirects),
	}}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			mi, www := webTorrent(t, "fault dir", 32<<10, manyFiles()...)
			fs := http.FileServer(http.Dir(www))
			goodH := &counting{h: fs}
			good := serveHTTP(t, goodH)
			bad := serveHTTP(t, c.bad(t, fs, good.URL))
			urls := []string{bad.URL + "/"}
			if !c.alone {
				// The good seed, throttled, leaves the bad one its chances.
				slow := serveHTTP(t, throttle(fs, 1<<20))
				urls = append(urls, slow.URL+"/")
			}
			cfg := fastSeeds
			if c.cfg.Timeout != 0 {
				cfg.Timeout = c.cfg.Timeout
			}
			dir := t.TempDir()
			s := startSession(t, Config{Torrent: mi, Dir: dir, WebSeeds: urls, WebSeed: cfg})
			awaitOrFail(t, s, 60*time.Second)
			samePayload(t, mi, www, dir)
			st := s.Stats()
			ws := seedStats(t, st, bad.URL)
			if ws.Requests == 0 {
				t.Fatalf("the faulty seed was never asked: %+v", ws)
			}
			c.check(t, ws)
			t.Logf("%+v", st.WebSeeds)
		})
	}
}

// cutWriter sends the first left bytes of the body and drops the rest: the
// body is shorter than its Content-Length.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (w *cutWriter) Write(b []byte) (int, error) {
	k := min(len(b), w.left)
	w.left -= k
	if k > 0 {
		if _, err := w.ResponseWriter.Write(b[:k]); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// longWriter removes the Content-Length (the body goes chunked), so that
// the handler may send more than the range.
type longWriter struct{ http.ResponseWriter }

func (w *longWriter) WriteHeader(code int) {
	w.Header().Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
}

// flipWriter corrupts every byte of the body.
type flipWriter struct{ http.ResponseWriter }

func (w flipWriter) Write(b []byte) (int, error) {
	c := make([]byte, len(b))
	for i := range b {
		c[i] = b[i] ^ 0x5a
	}
	return w.ResponseWriter.Write(c)
}

// TestWebSeedRedirectPublicToLoopbackRefused: a seed at a public address
// (TEST-NET-3, reached through a test transport) redirects to a loopback
// server; the redirect is refused (the tracker client's address rule) and
// the download completes from the good seed, which never sees the
// redirected requests.
func TestWebSeedRedirectPublicToLoopbackRefused(t *testing.T) {
	mi, www := webTorrent(t, "pub", 32<<10, manyFiles()...)
	fs := http.FileServer(http.Dir(www))
	var redirected atomic.Int64
	good := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := strings.CutPrefix(r.URL.Path, "/redirected"); ok {
			redirected.Add(1)
			r.URL.Path = p
		}
		fs.ServeHTTP(w, r)
	}))
	public := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, good.URL+"/redirected"+r.URL.EscapedPath(), http.StatusFound)
	}))
	const publicHost = "203.0.113.9:8080"
	pub, _ := url.Parse(public.URL)
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections) // after the session's stop (cleanups run last first)
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == publicHost {
			r = r.Clone(r.Context())
			r.URL.Host = pub.Host
		}
		return base.RoundTrip(r)
	})
	cfg := fastSeeds
	cfg.Transport = tr
	dir := t.TempDir()
	s := startSession(t, Config{Torrent: mi, Dir: dir, WebSeeds: []string{"http://" + publicHost + "/", good.URL + "/"}, WebSeed: cfg})
	awaitOrFail(t, s, 60*time.Second)
	samePayload(t, mi, www, dir)
	ws := seedStats(t, s.Stats(), "http://"+publicHost)
	if !errors.Is(ws.LastError, webseed.ErrForbiddenAddress) || ws.Downloaded != 0 {
		t.Fatalf("the public seed's redirect to loopback should be refused: %+v", ws)
	}
	if n := redirected.Load(); n != 0 {
		t.Fatalf("%d redirected requests reached the loopback server", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestWebSeedLifecycle: seeds start after the check only while wanted
// pieces are missing, stop at completion (a seeding session asks nothing
// more), and start again when a skipped file is wanted.
func TestWebSeedLifecycle(t *testing.T) {
	files := []testFile{
		{path: []string{"a.bin"}, data: randomData(31, 600_000)},
		{path: []string{"b.bin"}, data: randomData(32, 700_000)},
	}
	mi, www := webTorrent(t, "life", 64<<10, files...)
	h := &counting{h: http.FileServer(http.Dir(www))}
	srv := serveHTTP(t, h)
	mi.URLList = []string{srv.URL + "/"}

	// Complete data: the seeds are never made, nothing is asked.
	full := startSession(t, Config{Torrent: mi, Dir: www, Seed: true})
	awaitOrFail(t, full, 10*time.Second)
	if st := full.Stats(); len(st.WebSeeds) != 0 || h.n.Load() != 0 {
		t.Fatalf("a complete torrent used its web seeds: %+v, %d requests", st.WebSeeds, h.n.Load())
	}

	dir := t.TempDir()
	s := startSession(t, Config{Torrent: mi, Dir: dir, Seed: true, FilePriorities: []FilePriority{FileNormal, FileSkip}})
	awaitOrFail(t, s, 30*time.Second)
	st := s.Stats()
	if ws := seedStats(t, st, srv.URL); ws.State != WebSeedIdle || ws.Downloaded == 0 {
		t.Fatalf("after completion the seed should be idle: %+v", ws)
	}
	asked := h.n.Load()
	time.Sleep(300 * time.Millisecond) // a seeding session asks nothing more
	if n := h.n.Load(); n != asked {
		t.Fatalf("%d requests after completion", n-asked)
	}
	if err := s.SetFilePriorities([]FilePriority{FileNormal, FileNormal}); err != nil {
		t.Fatal(err)
	}
	awaitOrFail(t, s, 30*time.Second)
	samePayload(t, mi, www, dir)
	if h.n.Load() == asked {
		t.Fatal("the file wanted again was not fetched from the web seed")
	}
}

// TestWebSeedMagnet: a magnet with ws= gets its metadata from a peer that
// has none of the data, then the data from the web seed, which is not
// asked anything before the info is known.
func TestWebSeedMagnet(t *testing.T) {
	mi, www := webTorrent(t, "mag ws", 32<<10, manyFiles()[:6]...)
	var early atomic.Bool
	var infoKnown atomic.Bool
	srv := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !infoKnown.Load() {
			early.Store(true)
		}
		http.FileServer(http.Dir(www)).ServeHTTP(w, r)
	}))
	// The metadata's source: a session with the torrent and no data.
	holder := startSession(t, Config{Torrent: mi, Dir: t.TempDir()})
	if _, _, err := holder.Checked(context.Background()); err != nil {
		t.Fatal(err)
	}
	m, err := metainfo.ParseMagnetOrHash(fmt.Sprintf("magnet:?xt=urn:btih:%x&ws=%s", mi.InfoHash, url.QueryEscape(srv.URL+"/")))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := startSession(t, Config{Magnet: m, Dir: dir, Peers: []netip.AddrPort{loopback(holder)}})
	go func() {
		select {
		case <-s.InfoReady():
			infoKnown.Store(true)
		case <-s.Done():
		}
	}()
	awaitOrFail(t, s, 60*time.Second)
	samePayload(t, mi, www, dir)
	if early.Load() {
		t.Fatal("the web seed was asked before the info was known")
	}
	if st := s.Stats(); st.WebSeedDownloaded < mi.Info.TotalLength() {
		t.Fatalf("web seed bytes %d of %d", st.WebSeedDownloaded, mi.Info.TotalLength())
	}
}

// TestWebSeedAddAtRuntime: a session without sources completes once a
// web seed is added; a bad URL is refused.
func TestWebSeedAddAtRuntime(t *testing.T) {
	mi, www := webTorrent(t, "late.bin", 64<<10, testFile{data: randomData(41, 1<<20+3)})
	srv := serveHTTP(t, http.FileServer(http.Dir(www)))
	dir := t.TempDir()
	s := startSession(t, Config{Torrent: mi, Dir: dir})
	if _, _, err := s.Checked(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.AddWebSeeds("ftp://example.invalid/late.bin"); !errors.Is(err, webseed.ErrBadURL) {
		t.Fatalf("bad URL: %v", err)
	}
	if err := s.AddWebSeeds(srv.URL + "/late.bin"); err != nil {
		t.Fatal(err)
	}
	awaitOrFail(t, s, 30*time.Second)
	samePayload(t, mi, www, dir)
}

// TestWebSeedStopMidway: a session stopped while its seeds fetch ends
// every run goroutine (goleak checks the package) and gives the block
// budget back.
func TestWebSeedStopMidway(t *testing.T) {
	mi, www := webTorrent(t, "slow.bin", 64<<10, testFile{data: randomData(51, 4<<20)})
	srv := serveHTTP(t, throttle(http.FileServer(http.Dir(www)), 256<<10))
	env := testEnv(t)
	mi.URLList = []string{srv.URL + "/slow.bin", srv.URL + "/"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Config{Torrent: mi, Dir: t.TempDir(), Env: env, ListenAddr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for s.Stats().WebSeedDownloaded < 256<<10 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := int(env.blocks.live.Load()) - len(env.blocks.free); n != 0 {
		t.Fatalf("%d blocks of the budget still in use", n)
	}
	st := s.Stats()
	if st.Phase != Stopped || len(st.WebSeeds) != 2 {
		t.Fatalf("%+v", st)
	}
}

// TestWebSeedStates: the state names.
func TestWebSeedStates(t *testing.T) {
	for s, want := range map[WebSeedState]string{WebSeedIdle: "idle", WebSeedActive: "active",
		WebSeedBackingOff: "backing off", WebSeedDropped: "dropped", 9: "webseedstate(9)"} {
		if got := s.String(); got != want {
			t.Errorf("%d: %q, want %q", s, got, want)
		}
	}
}

// TestWebSeedWantless: a seed that lacks a file leaves the core once it
// has nothing more we want (idle, not dropped), while the download waits
// for a source of that file; a seed added then completes it.
func TestWebSeedWantless(t *testing.T) {
	files := []testFile{
		{path: []string{"a.bin"}, data: randomData(71, 300_000)},
		{path: []string{"b.bin"}, data: randomData(72, 500_000)},
	}
	mi, www := webTorrent(t, "want", 32<<10, files...)
	fs := http.FileServer(http.Dir(www))
	partial := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/b.bin") {
			http.NotFound(w, r)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	full := serveHTTP(t, fs)
	dir := t.TempDir()
	s := startSession(t, Config{Torrent: mi, Dir: dir, WebSeeds: []string{partial.URL + "/"}, WebSeed: fastSeeds})
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.Stats()
		if len(st.WebSeeds) == 1 && st.WebSeeds[0].State == WebSeedIdle && st.WebSeeds[0].Unservable > 0 {
			if st.Phase != Downloading {
				t.Fatalf("phase %v", st.Phase)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the partial seed did not go idle: %+v", st.WebSeeds)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.AddWebSeeds(full.URL + "/"); err != nil {
		t.Fatal(err)
	}
	awaitOrFail(t, s, 30*time.Second)
	samePayload(t, mi, www, dir)
}

// TestDisplayURL: no query or fragment, and long URLs cut on a rune
// boundary.
func TestDisplayURL(t *testing.T) {
	if got := displayURL("http://h/a?token=secret#f"); got != "http://h/a" {
		t.Fatal(got)
	}
	long := "http://h/" + strings.Repeat("é", 200)
	got := displayURL(long)
	if !strings.HasSuffix(got, "…") || len(got) > 256+len("…") || !utf8.ValidString(got) {
		t.Fatalf("%q", got)
	}
}

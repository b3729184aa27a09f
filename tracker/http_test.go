package tracker

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHTTPAnnounceParametersAndClamp(t *testing.T) {
	req := AnnounceRequest{InfoHash: [20]byte{0, 1, 2, 0xfe, '+', '&'}, PeerID: fill('p'), Port: 7000,
		Uploaded: 10, Downloaded: 20, Left: 30, Event: EventStarted, Key: 0xdeadbeef}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			t.Errorf("query: %v", err)
		}
		check := func(k, want string) {
			if got := q.Get(k); got != want {
				t.Errorf("call %d: %s = %q, want %q", n, k, got, want)
			}
		}
		check("passkey", "secret")
		check("info_hash", string(req.InfoHash[:]))
		check("peer_id", string(req.PeerID[:]))
		check("port", "7000")
		check("uploaded", "10")
		check("downloaded", "20")
		check("left", "30")
		check("compact", "1")
		check("no_peer_id", "1")
		check("numwant", "50")
		check("key", "deadbeef")
		if n == 1 {
			check("event", "started")
		}
		if n == 3 { // the second announce through the tier list echoes the id
			check("trackerid", "T-42")
		} else {
			check("trackerid", "")
		}
		w.Write(mustMarshal(t, map[string]any{"interval": 5, "min interval": 2, "tracker id": "T-42",
			"peers": AppendCompactPeer(nil, netip.MustParseAddrPort("10.9.8.7:6"))}))
	}))
	defer srv.Close()
	u := srv.URL + "/announce?passkey=secret"

	c := NewClient(Options{})
	r, err := c.Announce(context.Background(), u, req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Interval != time.Minute || r.MinInterval != time.Minute {
		t.Fatalf("not clamped: %v %v", r.Interval, r.MinInterval)
	}
	if len(r.Peers) != 1 || r.Peers[0] != netip.MustParseAddrPort("10.9.8.7:6") || r.TrackerID != "T-42" {
		t.Fatalf("response %+v", r)
	}
	// A lowered floor (tests) passes the tracker's values through; the tier
	// list remembers and echoes the tracker id.
	c = NewClient(Options{MinInterval: time.Second})
	tiers := NewTiers([][]string{{u}}, nil)
	req.Event = EventNone
	r, _, err = tiers.Announce(context.Background(), c, req)
	if err != nil || r.Interval != 5*time.Second || r.MinInterval != 2*time.Second {
		t.Fatalf("%+v %v", r, err)
	}
	if _, _, err = tiers.Announce(context.Background(), c, req); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Fatalf("calls %d", calls.Load())
	}
}

func TestHTTPScrape(t *testing.T) {
	h := fill(3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/x/scrape" || r.URL.Query().Get("info_hash") != string(h[:]) {
			t.Errorf("scrape request %s", r.URL)
		}
		w.Write(mustMarshal(t, map[string]any{"files": map[string]any{string(h[:]): map[string]any{"complete": 5, "downloaded": 6, "incomplete": 7}}}))
	}))
	defer srv.Close()
	m, err := NewClient(Options{}).Scrape(context.Background(), srv.URL+"/x/announce", h)
	if err != nil || m[h] != (ScrapeStats{Complete: 5, Downloaded: 6, Incomplete: 7}) {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := NewClient(Options{}).Scrape(context.Background(), srv.URL+"/x/ann", h); !errors.Is(err, ErrScrapeUnsupported) {
		t.Fatal(err)
	}
}

// TestMisbehavingHTTPTracker: every hostile answer ends in a clear error,
// reads are bounded, nothing hangs past the client's timeout.
func TestMisbehavingHTTPTracker(t *testing.T) {
	var huge atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/huge/announce", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 1024; i++ { // at most 64 MiB, bounded even if the client misbehaved
			n, err := w.Write(chunk)
			huge.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/biglength/announce", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000000")
		w.Write([]byte("d8:intervali60ee"))
	})
	mux.HandleFunc("/garbage/announce", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
	})
	mux.HandleFunc("/loop/announce", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop/announce", http.StatusFound)
	})
	mux.HandleFunc("/udpredirect/announce", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "udp://127.0.0.1:1/announce", http.StatusFound)
	})
	mux.HandleFunc("/status/announce", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write(mustMarshal(t, map[string]any{"failure reason": "unregistered torrent"}))
	})
	mux.HandleFunc("/status500/announce", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := NewClient(Options{Timeout: 10 * time.Second})
	ctx := context.Background()
	req := AnnounceRequest{InfoHash: fill(1), PeerID: fill(2), Port: 1}
	var fe *FailureError
	for path, check := range map[string]func(error) bool{
		"huge":        func(err error) bool { return errors.Is(err, ErrBodyTooLarge) },
		"biglength":   func(err error) bool { return errors.Is(err, ErrBodyTooLarge) },
		"garbage":     func(err error) bool { return errors.Is(err, ErrBadResponse) },
		"loop":        func(err error) bool { return errors.Is(err, ErrTooManyRedirects) },
		"udpredirect": func(err error) bool { return errors.Is(err, ErrBadURL) },
		"status":      func(err error) bool { return errors.As(err, &fe) && fe.Reason == "unregistered torrent" },
		"status500":   func(err error) bool { return err != nil && strings.Contains(err.Error(), "500") },
	} {
		_, err := c.Announce(ctx, srv.URL+"/"+path+"/announce?passkey=s3cret", req)
		if !check(err) {
			t.Errorf("%s: unexpected error %v", path, err)
		}
		if err != nil && (strings.Contains(err.Error(), "peer_id") || strings.Contains(err.Error(), "passkey")) {
			t.Errorf("%s: error leaks the query: %v", path, err)
		}
	}
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRedirectPublicToPrivateRefused(t *testing.T) {
	var reachedPrivate atomic.Bool
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Hostname() != "8.8.8.8" {
			reachedPrivate.Store(true)
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("d8:intervali60ee")), Request: r}, nil
		}
		h := http.Header{}
		h.Set("Location", "http://127.0.0.1:8080/announce")
		return &http.Response{StatusCode: http.StatusFound, Header: h, Body: http.NoBody, Request: r}, nil
	})
	c := NewClient(Options{Transport: rt})
	_, err := c.Announce(context.Background(), "http://8.8.8.8/announce", AnnounceRequest{Port: 1})
	if !errors.Is(err, ErrForbiddenAddress) || reachedPrivate.Load() {
		t.Fatalf("err %v, reached private %v", err, reachedPrivate.Load())
	}
}

// TestDialGuard: the default transport checks the resolved address of every
// dial, so a public origin cannot reach loopback through a DNS name either.
func TestDialGuard(t *testing.T) {
	var hit atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
	defer srv.Close()
	c := NewClient(Options{})
	g := &addrGuard{}
	if err := g.check(netip.MustParseAddr("8.8.8.8")); err != nil {
		t.Fatal(err)
	}
	tr := c.transport(g)
	defer tr.CloseIdleConnections()
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	r, _ := http.NewRequest("GET", u, nil)
	_, err := tr.RoundTrip(r)
	if !errors.Is(err, ErrForbiddenAddress) || hit.Load() {
		t.Fatalf("err %v hit %v", err, hit.Load())
	}
	// A loopback origin may use loopback.
	tr2 := c.transport(&addrGuard{})
	defer tr2.CloseIdleConnections()
	resp, err := tr2.RoundTrip(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestSlowHTTPTrackerTimesOut runs in virtual time: a tracker that never
// answers costs exactly the client's timeout.
func TestSlowHTTPTrackerTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		})
		c := NewClient(Options{Transport: rt, Timeout: 7 * time.Second})
		start := time.Now()
		_, err := c.Announce(context.Background(), "http://tracker.example/announce", AnnounceRequest{Port: 1})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d != 7*time.Second {
			t.Fatalf("took %v, want exactly the 7s timeout", d)
		}
	})
}

// TestHugeBodyMemoryBounded: a tracker offering 64 MiB costs the client
// about the 2 MiB limit in allocations, not the body's size.
func TestHugeBodyMemoryBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for range 1024 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := NewClient(Options{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := c.Announce(context.Background(), srv.URL+"/announce", AnnounceRequest{Port: 1})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err %v", err)
	}
	// io.ReadAll doubles up to ~2 MiB (≈ 4-5 MiB in total); the server side
	// reuses one chunk (the race detector doubles it). 24 MiB leaves room and is far below 64 MiB.
	t.Logf("allocated %d KiB", (after.TotalAlloc-before.TotalAlloc)>>10)
	if d := after.TotalAlloc - before.TotalAlloc; d > 24<<20 {
		t.Fatalf("allocated %d MiB reading a 64 MiB body", d>>20)
	}
}

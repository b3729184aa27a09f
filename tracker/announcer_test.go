package tracker

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// scriptedTracker is an in-memory HTTP tracker for synctest bubbles: it logs
// each announce (event and virtual time) and answers by its mode.
type scriptedTracker struct {
	mu    sync.Mutex
	log   []announceSeen
	fail  bool // answer with a transport error
	hang  bool // never answer (until the request's ctx ends)
	peers []netip.AddrPort
	min   int // "min interval" sent when > 0
}

type announceSeen struct {
	host  string
	event string
	at    time.Duration
	left  string
}

func (st *scriptedTracker) transport(t0 time.Time) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		q := r.URL.Query()
		st.mu.Lock()
		st.log = append(st.log, announceSeen{host: r.URL.Host, event: q.Get("event"), at: time.Since(t0), left: q.Get("left")})
		fail, hang, minIv := st.fail, st.hang, st.min
		var peers []byte
		for _, p := range st.peers {
			peers = AppendCompactPeer(peers, p)
		}
		st.mu.Unlock()
		if hang {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		if fail {
			return nil, errors.New("connection refused")
		}
		body := "d8:intervali120e"
		if minIv > 0 {
			body += "12:min intervali" + itoa(minIv) + "e"
		}
		body += "5:peers" + itoa(len(peers)) + ":" + string(peers) + "e"
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})
}

func itoa(n int) string {
	b := []byte{}
	if n == 0 {
		return "0"
	}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func (st *scriptedTracker) seen() []announceSeen {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.log)
}

func (st *scriptedTracker) set(f func(*scriptedTracker)) {
	st.mu.Lock()
	f(st)
	st.mu.Unlock()
}

func TestAnnouncerLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		peer := netip.MustParseAddrPort("10.0.0.9:6881")
		st := &scriptedTracker{peers: []netip.AddrPort{peer}}
		var mu sync.Mutex
		var got []netip.AddrPort
		left := int64(100)
		a, err := StartAnnouncer(context.Background(), AnnouncerConfig{
			Tiers:    [][]string{{"http://tracker.example/announce"}},
			InfoHash: fill(1), PeerID: fill(2), Port: 6881,
			Client: NewClient(Options{Transport: st.transport(t0)}),
			Stats: func() (int64, int64, int64) {
				mu.Lock()
				defer mu.Unlock()
				return 0, 100 - left, left
			},
			OnPeers: func(ps []netip.AddrPort) {
				mu.Lock()
				got = append(got, ps...)
				mu.Unlock()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := a.Status(); s.State != "waiting" || s.Peers != 1 || !s.NextAnnounce.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("status %+v", s)
		}
		time.Sleep(5 * time.Minute) // announces at 120 s and 240 s
		mu.Lock()
		left = 0
		mu.Unlock()
		a.Completed() // at 300 s: at once, not at the 360 s interval
		synctest.Wait()
		time.Sleep(time.Minute)
		if err := a.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := []announceSeen{
			{"tracker.example", "started", 0, "100"},
			{"tracker.example", "", 2 * time.Minute, "100"},
			{"tracker.example", "", 4 * time.Minute, "100"},
			{"tracker.example", "completed", 5 * time.Minute, "0"},
			{"tracker.example", "stopped", 6 * time.Minute, "0"},
		}
		if s := st.seen(); !slices.Equal(s, want) {
			t.Fatalf("announces\n got %+v\nwant %+v", s, want)
		}
		if len(got) != 4 || got[0] != peer {
			t.Fatalf("OnPeers got %v", got)
		}
		if a.Status().State != "stopped" {
			t.Fatalf("state %s", a.Status().State)
		}
	})
}

// TestAnnouncerBackoff: failures retry after jittered, doubling delays capped
// at MaxBackoff; "started" is repeated until one succeeds.
func TestAnnouncerBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		st := &scriptedTracker{fail: true}
		a, err := StartAnnouncer(context.Background(), AnnouncerConfig{
			Tiers:  [][]string{{"http://a.example/announce"}, {"http://b.example/announce"}},
			Client: NewClient(Options{Transport: st.transport(t0)}),
			Port:   1, RetryBase: 10 * time.Second, MaxBackoff: 80 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		st.set(func(st *scriptedTracker) { st.fail = false })
		time.Sleep(3 * time.Minute)
		a.Stop(context.Background())
		seen := st.seen()
		// Each attempt tries both tiers in order at the same instant.
		var attempts []time.Duration
		for i := 0; i < len(seen); i++ {
			if seen[i].host == "a.example" {
				attempts = append(attempts, seen[i].at)
				if seen[i].event == "" {
					break // first success's follow-up
				}
			}
		}
		if len(attempts) < 8 {
			t.Fatalf("only %d attempts: %v", len(attempts), attempts)
		}
		nominal := []time.Duration{10, 20, 40, 80, 80, 80, 80, 80, 80, 80}
		prev := time.Duration(0)
		for i := 1; i < len(attempts); i++ {
			gap := attempts[i] - prev
			prev = attempts[i]
			if attempts[i] > 10*time.Minute {
				break
			}
			d := nominal[min(i-1, len(nominal)-1)] * time.Second
			if gap < d/2 || gap > d {
				t.Fatalf("retry %d after %v, want within [%v, %v]; attempts %v", i, gap, d/2, d, attempts)
			}
		}
		var started, stopped int
		for _, s := range seen {
			switch s.event {
			case "started":
				started++
			case "stopped":
				stopped++
			}
			if s.event == "started" && s.at > 10*time.Minute+80*time.Second {
				t.Fatalf("started sent after recovery: %+v", s)
			}
		}
		if started < 10 || stopped != 1 {
			t.Fatalf("started %d stopped %d: %+v", started, stopped, seen)
		}
	})
}

// TestAnnouncerStopBounded: a hung tracker holds Stop for exactly the
// StopTimeout, not longer, and the hung regular announce is abandoned.
func TestAnnouncerStopBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		st := &scriptedTracker{}
		a, err := StartAnnouncer(context.Background(), AnnouncerConfig{
			Tiers:  [][]string{{"http://a.example/announce"}},
			Client: NewClient(Options{Transport: st.transport(t0), Timeout: -1}),
			Port:   1, StopTimeout: 5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		st.set(func(st *scriptedTracker) { st.hang = true })
		time.Sleep(150 * time.Second) // the 120 s announce hangs
		if s := a.Status(); s.State != "announcing" {
			t.Fatalf("state %s", s.State)
		}
		start := time.Now()
		err = a.Stop(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stop: %v", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("Stop took %v", d)
		}
		// A caller's shorter deadline wins.
		a2, _ := StartAnnouncer(context.Background(), AnnouncerConfig{
			Tiers:  [][]string{{"http://a.example/announce"}},
			Client: NewClient(Options{Transport: st.transport(t0), Timeout: -1}),
			Port:   1,
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		a2.Stop(ctx)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Stop took %v with a 1 s ctx", d)
		}
	})
}

func TestAnnouncerNoTrackers(t *testing.T) {
	_, err := StartAnnouncer(context.Background(), AnnouncerConfig{Tiers: [][]string{{"ftp://x/"}}})
	if !errors.Is(err, ErrNoTrackers) {
		t.Fatal(err)
	}
}

// TestAnnouncerReannounce: Reannounce goes out at once when the min interval
// has passed, and is deferred to it otherwise.
func TestAnnouncerReannounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		st := &scriptedTracker{min: 30}
		a, err := StartAnnouncer(context.Background(), AnnouncerConfig{
			Tiers:  [][]string{{"http://a.example/announce"}},
			Client: NewClient(Options{Transport: st.transport(t0), MinInterval: time.Second}),
			Port:   1,
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		a.Reannounce() // 10 s < 30 s min interval: deferred to 30 s
		time.Sleep(25 * time.Second)
		a.Reannounce() // at 35 s, 5 s after the last: deferred to 60 s
		time.Sleep(35 * time.Second)
		a.Stop(context.Background())
		var at []time.Duration
		for _, s := range st.seen() {
			at = append(at, s.at)
		}
		want := []time.Duration{0, 30 * time.Second, 60 * time.Second, 70 * time.Second}
		if !slices.Equal(at, want) {
			t.Fatalf("announces at %v, want %v", at, want)
		}
	})
}

package dht

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeSearch records when searches start and answers as scripted.
type fakeSearch struct {
	mu        sync.Mutex
	t0        time.Time
	at        []time.Duration
	opts      []SearchOptions
	responses int
	peers     []netip.AddrPort
	block     bool // wait for ctx
}

func (f *fakeSearch) search(ctx context.Context, ih [20]byte, o SearchOptions) (SearchResult, error) {
	f.mu.Lock()
	f.at = append(f.at, time.Since(f.t0))
	f.opts = append(f.opts, o)
	block, res := f.block, SearchResult{Responses: f.responses, Peers: f.peers}
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return SearchResult{}, ctx.Err()
	}
	if o.OnPeers != nil && len(res.Peers) > 0 {
		o.OnPeers(res.Peers)
	}
	return res, nil
}

func (f *fakeSearch) gaps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var g []time.Duration
	for i := 1; i < len(f.at); i++ {
		g = append(g, f.at[i]-f.at[i-1])
	}
	return g
}

func within(t *testing.T, what string, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s: %v not in [%v, %v]", what, got, lo, hi)
	}
}

// TestAnnouncerSchedule: searches come sooner while the torrent wants
// peers (1, 2, 4, then 5 minutes apart, less jitter) and every 15 minutes
// once it has enough; each announces our port.
func TestAnnouncerSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeSearch{t0: time.Now(), responses: 8, peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:1")}}
		var want atomic.Int64
		want.Store(10)
		var got atomic.Int64
		a, err := startAnnouncer(t.Context(), AnnouncerConfig{InfoHash: [20]byte{1}, Port: 6881,
			Want: func() int { return int(want.Load()) }, OnPeers: func(p []netip.AddrPort) { got.Add(int64(len(p))) }}, f.search, nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(12*time.Minute + 30*time.Second) // searches at 0, ~1, ~3, ~7, ~12 min
		want.Store(0)
		time.Sleep(16 * time.Minute) // one more at ~5 min later (still "few" when it ran), then 15 min
		time.Sleep(16 * time.Minute)
		if err := a.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		g := f.gaps()
		if len(g) < 6 {
			t.Fatalf("gaps %v", g)
		}
		within(t, "1st", g[0], 45*time.Second, time.Minute)
		within(t, "2nd", g[1], 90*time.Second, 2*time.Minute)
		within(t, "3rd", g[2], 3*time.Minute, 4*time.Minute)
		within(t, "4th", g[3], 225*time.Second, 5*time.Minute)
		for i := 4; i < len(g); i++ {
			if g[i] >= 675*time.Second && g[i] <= 15*time.Minute {
				goto enough
			}
		}
		t.Errorf("never 15 min apart once enough: %v", g)
	enough:
		for _, o := range f.opts {
			if o.AnnouncePort != 6881 {
				t.Fatalf("search without our port: %+v", o)
			}
		}
		if got.Load() != int64(len(f.at)) || a.Status().State != "stopped" {
			t.Fatalf("delivered %d over %d searches; %+v", got.Load(), len(f.at), a.Status())
		}
	})
}

// TestAnnouncerRetry: searches that reach no node are retried after 15 s,
// doubling up to 5 min.
func TestAnnouncerRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeSearch{t0: time.Now()}
		a, err := startAnnouncer(t.Context(), AnnouncerConfig{}, f.search, nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(15 * time.Minute)
		st := a.Status()
		a.Stop(t.Context())
		g := f.gaps()
		within(t, "1st", g[0], 11*time.Second, 15*time.Second)
		within(t, "2nd", g[1], 22*time.Second, 30*time.Second)
		within(t, "3rd", g[2], 45*time.Second, time.Minute)
		within(t, "last", g[len(g)-1], 225*time.Second, 5*time.Minute)
		if st.Failures < 5 || st.LastErr == nil {
			t.Fatalf("status %+v", st)
		}
	})
}

// fakeNodes is a routing table that is empty until fill; fill wakes the
// waiters as the node's maintain loop does.
type fakeNodes struct {
	has     atomic.Bool
	waiting wakeList
}

func (f *fakeNodes) hasNodes() bool               { return f.has.Load() }
func (f *fakeNodes) whenNodes(wake func()) func() { return f.waiting.add(wake) }
func (f *fakeNodes) fill()                        { f.has.Store(true); f.waiting.wake() }

// TestAnnouncerWaitsForNodes: a search that found the routing table empty
// is not retried on a timer (a client with thousands of torrents and no
// node stays idle); the announcer waits for the node to have one, then
// searches within RetryBase. Stop forgets the wait.
func TestAnnouncerWaitsForNodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeSearch{t0: time.Now()}
		nodes := &fakeNodes{}
		a, err := startAnnouncer(t.Context(), AnnouncerConfig{}, f.search, nodes)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(f.gaps()) + 1; n != 1 || nodes.waiting.len() != 1 {
			t.Fatalf("%d searches in an hour with an empty table, %d waiting; want 1 and 1", n, nodes.waiting.len())
		}
		if st := a.Status(); st.State != "waiting" || !st.NextSearch.IsZero() || st.Failures != 1 {
			t.Fatalf("status %+v", st)
		}
		f.mu.Lock()
		f.responses = 3
		f.mu.Unlock()
		woke := time.Now()
		nodes.fill()
		time.Sleep(DefaultRetryBase + time.Second)
		synctest.Wait()
		f.mu.Lock()
		at := f.at
		f.mu.Unlock()
		if len(at) != 2 {
			t.Fatalf("%d searches after the table filled, want 2", len(at))
		}
		within(t, "search after the wake", f.t0.Add(at[1]).Sub(woke), 0, DefaultRetryBase)
		// A second empty-table failure waits again; Stop forgets it.
		nodes.has.Store(false)
		f.mu.Lock()
		f.responses = 0
		f.mu.Unlock()
		time.Sleep(2 * DefaultEnoughInterval)
		synctest.Wait()
		if nodes.waiting.len() != 1 {
			t.Fatalf("%d waiting after a second empty-table search", nodes.waiting.len())
		}
		if err := a.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		if nodes.waiting.len() != 0 {
			t.Fatal("Stop left the announcer waiting on the node")
		}
	})
}

// TestAnnouncerReannounce: Reannounce searches at once when the last
// search is a MinInterval old, else at that moment.
func TestAnnouncerReannounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeSearch{t0: time.Now(), responses: 1}
		a, err := startAnnouncer(t.Context(), AnnouncerConfig{Want: func() int { return 0 }}, f.search, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Stop(context.Background())
		time.Sleep(10 * time.Second)
		a.Reannounce()
		time.Sleep(time.Minute)
		if g := f.gaps(); len(g) != 1 || g[0] != time.Minute {
			t.Fatalf("gaps %v", g)
		}
		time.Sleep(5 * time.Minute)
		a.Reannounce()
		synctest.Wait()
		if g := f.gaps(); len(g) != 2 || g[1] != 5*time.Minute+10*time.Second {
			t.Fatalf("gaps %v", g)
		}
	})
}

// TestAnnouncerStopCancelsSearch: Stop cancels the search in flight and
// waits for it.
func TestAnnouncerStopCancelsSearch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeSearch{t0: time.Now(), block: true}
		a, err := startAnnouncer(t.Context(), AnnouncerConfig{}, f.search, nil)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if st := a.Status(); st.State != "searching" {
			t.Fatalf("state %v", st.State)
		}
		if err := a.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := a.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStartAnnouncerNeedsNode(t *testing.T) {
	if _, err := StartAnnouncer(t.Context(), AnnouncerConfig{}); err != ErrNoNode {
		t.Fatal(err)
	}
}

// TestAnnouncersFindEachOther: two announcers on a loopback DHT, each
// announcing its port; each one's OnPeers receives the other's.
func TestAnnouncersFindEachOther(t *testing.T) {
	c := startCluster(t, 6)
	ih := [20]byte{0xab}
	found := make([]chan netip.AddrPort, 2)
	var anns []*Announcer
	for i, port := range []uint16{7101, 7102} {
		found[i] = make(chan netip.AddrPort, 100)
		ch := found[i]
		a, err := StartAnnouncer(t.Context(), AnnouncerConfig{Node: c.nodes[1+3*i], InfoHash: ih, Port: port,
			MinInterval: 100 * time.Millisecond, FewInterval: 200 * time.Millisecond, RetryBase: 100 * time.Millisecond,
			OnPeers: func(p []netip.AddrPort) {
				for _, x := range p {
					ch <- x
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		anns = append(anns, a)
	}
	defer func() {
		for _, a := range anns {
			a.Stop(context.Background())
		}
	}()
	timeout := time.After(60 * time.Second)
	for i, want := range []string{"127.0.0.1:7102", "127.0.0.1:7101"} {
	wait:
		for {
			select {
			case p := <-found[i]:
				if p.String() == want {
					break wait
				}
			case <-timeout:
				t.Fatalf("announcer %d never found %s: %+v", i, want, anns[i].Status())
			}
		}
	}
}

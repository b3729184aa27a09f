package dht

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/statem"
)

// Announcer defaults.
const (
	DefaultEnoughInterval = 15 * time.Minute
	DefaultFewInterval    = 5 * time.Minute
	DefaultMinInterval    = time.Minute
	DefaultRetryBase      = 15 * time.Second
	DefaultSearchTimeout  = 2 * time.Minute
)

// ErrNoNode is returned by StartAnnouncer without a Node.
var ErrNoNode = errors.New("dht: announcer needs a node")

// AnnouncerConfig configures an Announcer. Zero fields take the defaults.
type AnnouncerConfig struct {
	// Node is the process's DHT node (required).
	Node     *Node
	InfoHash [20]byte
	// Port is the peer port announced (announce_peer). Zero with
	// ImpliedPort false searches without announcing (a torrent that does
	// not accept connections).
	Port uint16
	// ImpliedPort announces the source port of our DHT datagrams instead
	// (BEP 5 implied_port), right when peers reach us on the DHT's UDP port
	// (uTP) behind NAT.
	ImpliedPort bool
	// OnPeers receives the new peers of each search as they arrive, from
	// the announcer's search goroutine, one call at a time, never after
	// Stop returns. It should not block for long. The session puts them in
	// its address book.
	OnPeers func([]netip.AddrPort)
	// Want is the hint: how many more peers the torrent would like now
	// (0: it has enough). It is called after each search, from the search
	// goroutine. nil means always wanting.
	Want func() int
	// EnoughInterval is the time between searches while Want is 0 (15
	// min, below the 30 min after which nodes forget an announce).
	EnoughInterval time.Duration
	// MinInterval and FewInterval shape the searches while Want is
	// positive: MinInterval after the first, doubling each time, up to
	// FewInterval (1 and 5 min). MinInterval is also the least time
	// between two searches that Reannounce can force.
	MinInterval, FewInterval time.Duration
	// RetryBase is the first delay after a search that reached no node
	// (the node is still bootstrapping, or the network is down); it
	// doubles up to FewInterval (15 s).
	//
	// A search that found the routing table empty is not retried on a
	// timer: the announcer waits for the node to have a node (the node's
	// one goroutine wakes every waiting announcer then, and each searches
	// within RetryBase of it, spread at random).
	RetryBase time.Duration
	// SearchTimeout bounds one search (2 min).
	SearchTimeout time.Duration
	// Logger receives failures (default: discard).
	Logger *slog.Logger
}

// Announcer keeps one torrent on the DHT, as tracker.Announcer keeps it on
// its trackers: a get_peers search (ending with announce_peer of our port)
// at once, then again while the torrent lacks peers (every 1, 2, 4, then 5
// minutes), and every 15 minutes when it has enough, as the Want hint says.
// It is a statem machine with the states idle, searching and waiting; each
// search runs on its own goroutine and reports back. Private torrents
// (BEP 27) must never get one: the client keeps them off the DHT. Its
// methods are safe for concurrent use.
type Announcer struct {
	cfg    AnnouncerConfig
	search func(context.Context, [20]byte, SearchOptions) (SearchResult, error)
	nodes  nodeWaiter // nil: failed searches always retry on a timer
	m      *statem.Machine[annState, *annData]

	root     context.Context // parent of every search; cancelled by Stop
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once

	mu     sync.Mutex
	status AnnouncerStatus
}

// AnnouncerStatus is a snapshot of an announcer's progress.
type AnnouncerStatus struct {
	State      string    // "idle", "searching", "waiting" or "stopped"
	Searches   int       // searches finished
	LastSearch time.Time // when the last search finished
	NextSearch time.Time // when the next is due (zero while searching, and while waiting for the routing table to have a node)
	LastPeers  int       // distinct peers found by the last search
	TotalPeers int       // peers delivered to OnPeers since start (not deduplicated across searches)
	Responses  int       // nodes that answered the last search
	Failures   int       // consecutive searches that reached no node
	LastErr    error     // the last search's error, nil after a success
}

type annState uint8

const (
	stIdle annState = iota
	stSearching
	stWaiting
)

func (s annState) String() string { return [...]string{"idle", "searching", "waiting"}[s] }

type annData struct {
	seq      uint64
	inflight context.CancelFunc
	failures int
	few      int // consecutive searches that ended wanting peers
	last     time.Time
	forced   bool   // Reannounce arrived during a search
	forget   func() // waiting for the node to have a node: stop waiting
}

// nodeWaiter is what an announcer asks its Node after a search that
// reached no node: whether the routing table has a node, and a wake-up
// once it has (see Node.whenNodes).
type nodeWaiter interface {
	hasNodes() bool
	whenNodes(wake func()) (forget func())
}

type (
	kickMsg       struct{}
	reannounceMsg struct{}
	stopMsg       struct{}
	timeoutMsg    struct{}
	nodesMsg      struct{} // the node has a node again
	resultMsg     struct {
		seq  uint64
		res  SearchResult
		want int
		err  error
	}
)

// StartAnnouncer starts the first search at once. ctx bounds only the
// start; the announcer runs until Stop, which the caller must call (before
// closing the Node).
func StartAnnouncer(ctx context.Context, cfg AnnouncerConfig) (*Announcer, error) {
	if cfg.Node == nil {
		return nil, ErrNoNode
	}
	return startAnnouncer(ctx, cfg, cfg.Node.Search, cfg.Node)
}

func startAnnouncer(ctx context.Context, cfg AnnouncerConfig, search func(context.Context, [20]byte, SearchOptions) (SearchResult, error), nodes nodeWaiter) (*Announcer, error) {
	if cfg.EnoughInterval <= 0 {
		cfg.EnoughInterval = DefaultEnoughInterval
	}
	if cfg.FewInterval <= 0 {
		cfg.FewInterval = DefaultFewInterval
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = DefaultMinInterval
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.SearchTimeout <= 0 {
		cfg.SearchTimeout = DefaultSearchTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Announcer{cfg: cfg, search: search, nodes: nodes, status: AnnouncerStatus{State: "idle"}}
	a.root, a.cancel = context.WithCancel(context.Background())
	m, err := statem.Start[annState, *annData](ctx, a, statem.WithLogger(cfg.Logger), statem.WithLog(16))
	if err != nil {
		a.cancel()
		return nil, err
	}
	a.m = m
	_ = m.Cast(kickMsg{})
	return a, nil
}

// Reannounce asks for a search now (the torrent needs peers); it is
// deferred until MinInterval has passed since the last search.
func (a *Announcer) Reannounce() { _ = a.m.Cast(reannounceMsg{}) }

// Status returns a snapshot of the announcer's progress.
func (a *Announcer) Status() AnnouncerStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

// Stop ends the announcer: the search in flight is cancelled and waited
// for, so OnPeers is never called after Stop returns. Nodes forget our
// announce by themselves (after 30 minutes); nothing is sent. Calls after
// the first return nil. The error is ctx's if it ended first (the
// announcer is stopped anyway).
func (a *Announcer) Stop(ctx context.Context) error {
	var err error
	a.stopOnce.Do(func() {
		_, err = a.m.Call(ctx, stopMsg{})
		a.cancel()
		if err != nil {
			_ = a.m.Stop(context.Background(), nil)
			err = fmt.Errorf("dht: stopping announcer: %w", err)
		}
		a.wg.Wait()
		a.setStatus(func(s *AnnouncerStatus) { s.State, s.NextSearch = "stopped", time.Time{} })
	})
	return err
}

// Init implements statem.Handler.
func (a *Announcer) Init(context.Context) (annState, *annData, []statem.Action, error) {
	return stIdle, &annData{}, nil, nil
}

// HandleEvent implements statem.Handler: the announcer's transitions.
func (a *Announcer) HandleEvent(_ context.Context, ev statem.Event, s annState, d *annData) statem.Result[annState, *annData] {
	switch msg := ev.Content.(type) {
	case stopMsg:
		if d.inflight != nil {
			d.inflight()
		}
		d.stopWaiting()
		return statem.StopAndReply[annState](nil, d, statem.Reply(ev.From, nil))
	case kickMsg:
		if s == stIdle {
			return a.launch(d)
		}
	case reannounceMsg:
		switch s {
		case stSearching:
			d.forced = true
		case stWaiting:
			if due := d.last.Add(a.cfg.MinInterval); time.Now().Before(due) {
				a.setStatus(func(st *AnnouncerStatus) { st.NextSearch = due })
				return statem.Keep[annState](d, statem.StateTimeoutAt(due, timeoutMsg{}))
			}
			return a.launch(d)
		}
	case timeoutMsg:
		if s == stWaiting {
			return a.launch(d)
		}
	case nodesMsg:
		if s == stWaiting && d.forget != nil {
			// Every waiting announcer wakes now: spread their searches.
			d.forget = nil
			delay := mrand.N(a.cfg.RetryBase + 1)
			a.setStatus(func(st *AnnouncerStatus) { st.NextSearch = time.Now().Add(delay) })
			return statem.Keep[annState](d, statem.SetStateTimeout(delay, timeoutMsg{}))
		}
	case resultMsg:
		if s == stSearching && msg.seq == d.seq {
			return a.handleResult(d, msg)
		}
	}
	return statem.Keep[annState](d)
}

func (a *Announcer) launch(d *annData) statem.Result[annState, *annData] {
	d.stopWaiting()
	d.seq++
	seq := d.seq
	d.forced = false
	ctx, cancel := context.WithTimeout(a.root, a.cfg.SearchTimeout)
	d.inflight = cancel
	a.setStatus(func(s *AnnouncerStatus) { s.State, s.NextSearch = "searching", time.Time{} })
	a.wg.Go(func() {
		defer cancel()
		opts := SearchOptions{AnnouncePort: a.cfg.Port, ImpliedPort: a.cfg.ImpliedPort}
		if a.cfg.OnPeers != nil {
			opts.OnPeers = func(p []netip.AddrPort) {
				if ctx.Err() == nil {
					a.setStatus(func(s *AnnouncerStatus) { s.TotalPeers += len(p) })
					a.cfg.OnPeers(p)
				}
			}
		}
		res, err := a.search(ctx, a.cfg.InfoHash, opts)
		if errors.Is(err, context.DeadlineExceeded) && a.root.Err() == nil {
			err = nil // the search ran its allotted time: what it found counts
		}
		want := 1
		if a.cfg.Want != nil {
			want = a.cfg.Want()
		}
		_ = a.m.Send(resultMsg{seq: seq, res: res, want: want, err: err})
	})
	return statem.Next(stSearching, d)
}

func (a *Announcer) handleResult(d *annData, r resultMsg) statem.Result[annState, *annData] {
	d.inflight = nil
	now := time.Now()
	d.last = now
	var delay time.Duration // 0: wait for the node to have a node
	failed := r.err != nil || r.res.Responses == 0
	switch {
	case failed:
		d.failures++
		if r.err == nil {
			r.err = errors.New("dht: no node answered")
		}
		if a.nodes != nil && !a.nodes.hasNodes() {
			// Nowhere to search until the node has a node: wait for it
			// rather than retry on a timer of our own.
			d.forget = a.nodes.whenNodes(func() { _ = a.m.Cast(nodesMsg{}) })
			break
		}
		delay = a.cfg.RetryBase
		for i := 1; i < d.failures && delay < a.cfg.FewInterval; i++ {
			delay *= 2
		}
		delay = min(delay, a.cfg.FewInterval)
	case r.want > 0:
		d.failures = 0
		delay = a.cfg.MinInterval
		for i := 0; i < d.few && delay < a.cfg.FewInterval; i++ {
			delay *= 2
		}
		delay = min(delay, a.cfg.FewInterval)
		d.few++
	default:
		d.failures, d.few = 0, 0
		delay = a.cfg.EnoughInterval
	}
	var actions []statem.Action
	next := time.Time{}
	if delay > 0 {
		// Jitter in [3/4, 1] of the delay keeps many torrents from searching in step.
		delay = delay*3/4 + mrand.N(delay/4+1)
		if d.forced {
			delay = min(delay, a.cfg.MinInterval)
		}
		next = now.Add(delay)
		actions = append(actions, statem.SetStateTimeout(delay, timeoutMsg{}))
	}
	if failed {
		a.cfg.Logger.Debug("dht search reached no node", "failures", d.failures, "retry_in", delay, "waiting_for_nodes", delay == 0, "err", r.err)
	}
	a.setStatus(func(s *AnnouncerStatus) {
		s.State, s.Searches, s.LastSearch, s.NextSearch = "waiting", s.Searches+1, now, next
		s.LastPeers, s.Responses, s.Failures, s.LastErr = len(r.res.Peers), r.res.Responses, d.failures, nil
		if failed {
			s.LastErr = r.err
		}
	})
	return statem.Next(stWaiting, d, actions...)
}

// stopWaiting forgets the wait for the node's routing table, if any.
func (d *annData) stopWaiting() {
	if d.forget != nil {
		d.forget()
		d.forget = nil
	}
}

func (a *Announcer) setStatus(f func(*AnnouncerStatus)) {
	a.mu.Lock()
	f(&a.status)
	a.mu.Unlock()
}

var _ statem.Handler[annState, *annData] = (*Announcer)(nil)

package tracker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/statem"
)

// AnnouncerConfig configures an Announcer. Zero fields take the defaults noted.
type AnnouncerConfig struct {
	// Tiers is the BEP 12 announce list (metainfo's Trackers()). Unusable
	// URLs are dropped; none left is ErrNoTrackers.
	Tiers    [][]string
	InfoHash [20]byte
	PeerID   [20]byte
	Port     uint16
	// Key is sent with every announce (0: a random key).
	Key uint32
	// NumWant is passed on (0: DefaultNumWant).
	NumWant int
	// Stats returns the byte counts for the next announce. It is called
	// from an announce goroutine (or Stop's caller), never from the state
	// machine, and must be safe to call concurrently with the caller's own
	// work. nil reports zeros.
	Stats func() (uploaded, downloaded, left int64)
	// OnPeers receives the peers of each successful announce, from a
	// goroutine of the announcer, one call at a time, never after Stop
	// returns. It should not block for long: the next announce waits for it.
	OnPeers func([]netip.AddrPort)
	// Client performs the requests (nil: NewClient(Options{})).
	Client *Client
	// AnnounceTimeout bounds one announce over all tiers (default 5 min).
	AnnounceTimeout time.Duration
	// StopTimeout bounds the "stopped" announce in Stop (default 5 s).
	StopTimeout time.Duration
	// RetryBase is the first retry delay after a failed announce; each
	// further failure doubles it, up to MaxBackoff (defaults 15 s and 30 min).
	// The delay actually used is drawn uniformly from [d/2, d] (jitter).
	RetryBase, MaxBackoff time.Duration
	// Logger receives announce failures and warnings (default: discard).
	Logger *slog.Logger
}

// Announcer keeps one torrent announced: "started" first, then regular
// announces at the tracker's interval, "completed" when told, and "stopped"
// on Stop. It is a statem machine with the states idle, announcing and
// waiting; each announce runs on its own goroutine and reports back as an
// info event, so the machine always answers Completed, Reannounce and Stop
// at once. Its methods are safe for concurrent use.
type Announcer struct {
	cfg    AnnouncerConfig
	client *Client
	tiers  *Tiers
	m      *statem.Machine[annState, *annData]

	root     context.Context // parent of every announce; cancelled by Stop
	cancel   context.CancelFunc
	wg       sync.WaitGroup // announce goroutines
	stopOnce sync.Once
	stopErr  error

	mu     sync.Mutex
	status AnnouncerStatus
}

// AnnouncerStatus is a snapshot of an announcer's progress.
type AnnouncerStatus struct {
	State        string    // "idle", "announcing", "waiting" or "stopped"
	Tracker      string    // the URL of the last tracker that answered
	LastAnnounce time.Time // when it answered
	NextAnnounce time.Time // when the next announce is due (zero while announcing)
	LastErr      error     // the last failure, nil after a success
	Failures     int       // consecutive failed announces
	Peers        int       // peers in the last response
	Seeders      int       // from the last response, -1 if not sent
	Leechers     int       // from the last response, -1 if not sent
}

type annState uint8

const (
	stIdle annState = iota
	stAnnouncing
	stWaiting
)

func (s annState) String() string {
	return [...]string{"idle", "announcing", "waiting"}[s]
}

// annData is the machine's data; only the machine goroutine touches it.
type annData struct {
	seq          uint64 // identifies the announce in flight; stale results are dropped
	inflight     context.CancelFunc
	startedSent  bool // a "started" announce succeeded
	completedDue bool // Completed was called and "completed" not yet acknowledged
	failures     int
	tracker      string // last tracker that answered: "stopped" goes there
	last         time.Time
	minInterval  time.Duration
}

// Messages to the machine.
type (
	kickMsg       struct{}
	completedMsg  struct{}
	reannounceMsg struct{}
	stopMsg       struct{}
	resultMsg     struct {
		seq   uint64
		event Event
		resp  *AnnounceResponse
		url   string
		err   error
	}
	stopInfo struct {
		tracker string
		started bool
	}
	timeoutMsg struct{}
)

// StartAnnouncer starts announcing at once ("started"). ctx bounds only the
// start: the announcer runs until Stop, which the caller must call. It fails
// with ErrNoTrackers when cfg.Tiers holds no usable URL.
func StartAnnouncer(ctx context.Context, cfg AnnouncerConfig) (*Announcer, error) {
	tiers := NewTiers(cfg.Tiers, nil)
	if tiers.Len() == 0 {
		return nil, ErrNoTrackers
	}
	if cfg.Key == 0 {
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.Key = binary.BigEndian.Uint32(b[:]) | 1
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(Options{})
	}
	if cfg.AnnounceTimeout <= 0 {
		cfg.AnnounceTimeout = 5 * time.Minute
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 5 * time.Second
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 15 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Announcer{cfg: cfg, client: cfg.Client, tiers: tiers}
	a.status = AnnouncerStatus{State: "idle", Seeders: -1, Leechers: -1}
	a.root, a.cancel = context.WithCancel(context.Background())
	m, err := statem.Start[annState, *annData](ctx, a, statem.WithLogger(cfg.Logger), statem.WithLog(16))
	if err != nil {
		a.cancel()
		return nil, err
	}
	a.m = m
	_ = m.Cast(kickMsg{}) // the first announce needs a.m set
	return a, nil
}

// Completed tells the trackers that the download finished: a "completed"
// announce goes out at once (or right after the one in flight). Call it only
// when the download completed while running, not when starting as a seed.
func (a *Announcer) Completed() { _ = a.m.Cast(completedMsg{}) }

// Reannounce asks for an announce now (for more peers); it is deferred until
// the tracker's min interval since the last announce has passed.
func (a *Announcer) Reannounce() { _ = a.m.Cast(reannounceMsg{}) }

// Status returns a snapshot of the announcer's progress.
func (a *Announcer) Status() AnnouncerStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

// Stop ends the announcer: the announce in flight is cancelled, then, if a
// tracker knows us, "stopped" is sent to it, bounded by ctx and
// cfg.StopTimeout, so Stop never holds up shutdown for longer. The announcer
// is stopped in every case; a non-nil error only reports that the stopped
// announce failed (or ctx ended). Calls after the first return the first's result.
func (a *Announcer) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() { a.stopErr = a.stop(ctx) })
	return a.stopErr
}

func (a *Announcer) stop(ctx context.Context) error {
	v, err := a.m.Call(ctx, stopMsg{})
	a.cancel()
	if err != nil {
		_ = a.m.Stop(context.Background(), nil) // ctx ended: stop it anyway
	}
	a.wg.Wait()
	a.setStatus(func(s *AnnouncerStatus) { s.State, s.NextAnnounce = "stopped", time.Time{} })
	if err != nil {
		return fmt.Errorf("tracker: stopping announcer: %w", err)
	}
	info := v.(stopInfo)
	if !info.started || info.tracker == "" {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, a.cfg.StopTimeout)
	defer cancel()
	_, err = a.tiers.AnnounceTo(sctx, a.client, info.tracker, a.request(EventStopped))
	if err != nil {
		return fmt.Errorf("tracker: stopped announce: %w", err)
	}
	return nil
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
		return statem.StopAndReply[annState](nil, d, statem.Reply(ev.From, stopInfo{tracker: d.tracker, started: d.startedSent}))
	case kickMsg:
		if s == stIdle {
			return a.launch(d)
		}
	case completedMsg:
		d.completedDue = true
		if s == stWaiting {
			return a.launch(d)
		}
	case reannounceMsg:
		if s == stWaiting {
			if due := d.last.Add(d.minInterval); time.Now().Before(due) {
				a.setStatus(func(st *AnnouncerStatus) { st.NextAnnounce = due })
				return statem.Keep[annState](d, statem.StateTimeoutAt(due, timeoutMsg{}))
			}
			return a.launch(d)
		}
	case timeoutMsg:
		if s == stWaiting {
			return a.launch(d)
		}
	case resultMsg:
		if s == stAnnouncing && msg.seq == d.seq {
			return a.handleResult(d, msg)
		}
	}
	return statem.Keep[annState](d)
}

// event picks the event of the next announce.
func (d *annData) event() Event {
	switch {
	case !d.startedSent:
		return EventStarted
	case d.completedDue:
		return EventCompleted
	}
	return EventNone
}

func (a *Announcer) request(ev Event) AnnounceRequest {
	req := AnnounceRequest{InfoHash: a.cfg.InfoHash, PeerID: a.cfg.PeerID, Port: a.cfg.Port,
		Event: ev, NumWant: a.cfg.NumWant, Key: a.cfg.Key}
	if a.cfg.Stats != nil {
		req.Uploaded, req.Downloaded, req.Left = a.cfg.Stats()
	}
	return req
}

// launch starts an announce on its own goroutine and enters announcing.
func (a *Announcer) launch(d *annData) statem.Result[annState, *annData] {
	d.seq++
	seq := d.seq
	ev := d.event()
	ctx, cancel := context.WithTimeout(a.root, a.cfg.AnnounceTimeout)
	d.inflight = cancel
	a.setStatus(func(s *AnnouncerStatus) { s.State, s.NextAnnounce = "announcing", time.Time{} })
	a.wg.Go(func() {
		defer cancel()
		req := a.request(ev) // Stats is user code: keep it off the machine's goroutine
		resp, u, err := a.tiers.Announce(ctx, a.client, req)
		if err == nil && len(resp.Peers) > 0 && a.cfg.OnPeers != nil && ctx.Err() == nil {
			a.cfg.OnPeers(resp.Peers)
		}
		_ = a.m.Send(resultMsg{seq: seq, event: req.Event, resp: resp, url: u, err: err})
	})
	return statem.Next(stAnnouncing, d)
}

func (a *Announcer) handleResult(d *annData, r resultMsg) statem.Result[annState, *annData] {
	d.inflight = nil
	now := time.Now()
	if r.err != nil {
		d.failures++
		delay := a.backoff(d.failures)
		a.cfg.Logger.Warn("announce failed", "event", r.event.String(), "failures", d.failures, "retry_in", delay, "err", r.err)
		a.setStatus(func(s *AnnouncerStatus) {
			s.State, s.LastErr, s.Failures, s.NextAnnounce = "waiting", r.err, d.failures, now.Add(delay)
		})
		return statem.Next(stWaiting, d, statem.SetStateTimeout(delay, timeoutMsg{}))
	}
	d.failures = 0
	d.tracker, d.last, d.minInterval = r.url, now, r.resp.MinInterval
	switch r.event {
	case EventStarted:
		d.startedSent = true
	case EventCompleted:
		d.completedDue = false
	}
	if r.resp.Warning != "" {
		a.cfg.Logger.Warn("tracker warning", "tracker", redact(r.url), "warning", r.resp.Warning)
	}
	interval := r.resp.Interval
	a.setStatus(func(s *AnnouncerStatus) {
		s.State, s.Tracker, s.LastAnnounce, s.LastErr, s.Failures = "waiting", r.url, now, nil, 0
		s.Peers, s.Seeders, s.Leechers, s.NextAnnounce = len(r.resp.Peers), r.resp.Complete, r.resp.Incomplete, now.Add(interval)
	})
	if d.completedDue { // Completed arrived during this announce
		return a.launch(d)
	}
	return statem.Next(stWaiting, d, statem.SetStateTimeout(interval, timeoutMsg{}))
}

// backoff is RetryBase × 2^(failures-1), capped at MaxBackoff, with the
// delay drawn from [d/2, d] so that many clients do not retry in step.
func (a *Announcer) backoff(failures int) time.Duration {
	d := a.cfg.RetryBase
	for i := 1; i < failures && d < a.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, a.cfg.MaxBackoff)
	return d/2 + mrand.N(d/2+1)
}

func (a *Announcer) setStatus(f func(*AnnouncerStatus)) {
	a.mu.Lock()
	f(&a.status)
	a.mu.Unlock()
}

var _ statem.Handler[annState, *annData] = (*Announcer)(nil)

package webseed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
)

// Defaults of Config.
const (
	DefaultMaxConns     = 4
	DefaultTimeout      = 30 * time.Second
	DefaultBackoffMin   = 5 * time.Second
	DefaultBackoffMax   = 5 * time.Minute
	DefaultMaxRedirects = 5
	DefaultMaxSkip      = 16 << 20
	DefaultMaxStrikes   = 3
)

// Config tunes a Seed. The zero value selects every default.
type Config struct {
	// MaxConns bounds the requests in flight to the seed, and so its
	// keep-alive connections per server. Default 4.
	MaxConns int
	// Timeout fails a request that makes no progress for this long: no
	// response headers, or no further buffer of the body filled. Default
	// 30 s. A timeout backs the seed off.
	Timeout time.Duration
	// BackoffMin and BackoffMax shape the backoff after a failure (5xx,
	// timeout, connection error, malformed response): the n-th failure in
	// a row keeps the seed idle for BackoffMin·2^(n-1), capped at
	// BackoffMax (at least the server's Retry-After, within the cap).
	// Defaults 5 s and 5 min.
	BackoffMin, BackoffMax time.Duration
	// MaxRedirects is how many redirects one request may follow. Default
	// 5; negative follows none.
	MaxRedirects int
	// MaxSkip is how far into a file Fetch reads and throws away when a
	// server answers a range request with the whole file (200). Bytes
	// further in become unavailable from the seed. Default 16 MiB;
	// negative never skips.
	MaxSkip int64
	// MaxStrikes is how many Strike calls drop the seed. Default 3.
	MaxStrikes int
	// UserAgent is sent when set.
	UserAgent string
	// Transport replaces the seed's own transport (a keep-alive pool of
	// MaxConns connections per host whose dialer applies the address rule).
	// With it, only redirect targets given as IP literals are checked
	// against the rule. Tests use it to inject faults.
	Transport http.RoundTripper
}

func (c *Config) fill() {
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	c.BackoffMax = max(c.BackoffMax, c.BackoffMin)
	switch {
	case c.MaxRedirects == 0:
		c.MaxRedirects = DefaultMaxRedirects
	case c.MaxRedirects < 0:
		c.MaxRedirects = 0
	}
	switch {
	case c.MaxSkip == 0:
		c.MaxSkip = DefaultMaxSkip
	case c.MaxSkip < 0:
		c.MaxSkip = 0
	}
	if c.MaxStrikes <= 0 {
		c.MaxStrikes = DefaultMaxStrikes
	}
}

// State is where a seed stands.
type State uint8

// States of a seed.
const (
	// Active: Fetch sends requests.
	Active State = iota
	// BackingOff: a request failed; Fetch returns a *BackoffError until
	// Stats.RetryAt.
	BackingOff
	// Dropped: Drop, Close or MaxStrikes strikes; Fetch returns ErrDropped.
	Dropped
)

var stateNames = [...]string{"active", "backing off", "dropped"}

// String returns the state's name.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Stats is a snapshot of a seed's counters.
type Stats struct {
	State      State
	RetryAt    time.Time // end of the backoff, when State is BackingOff
	Bytes      int64     // payload bytes written into callers' buffers
	Wasted     int64     // bytes read and thrown away (servers that ignore Range)
	Requests   int64     // HTTP requests sent (redirects followed are not counted)
	Errors     int64     // failed requests (not those the caller cancelled)
	Failures   int       // consecutive failures behind the current backoff
	Strikes    int       // Strike calls
	Unservable int       // pieces the seed cannot serve (see Servable)
	InFlight   int       // Fetch calls holding a connection slot
	LastError  error     // the last failure, nil if none
	DropReason error     // why the seed was dropped, nil if it was not
}

// errClosed is the drop reason Close records.
var errClosed = errors.New("closed")

// Seed is one web seed (BEP 19, GetRight style) of one torrent: a source
// of any byte range of the torrent over HTTP range requests. It holds a
// bounded pool of keep-alive connections and its own failure accounting
// (backoff, files it cannot serve, strikes). It starts no goroutine of its
// own (its transport keeps one or two per open connection). All methods
// are safe for concurrent use.
type Seed struct {
	info   *metainfo.Info
	raw    string
	urls   urlMap
	cfg    Config
	client *http.Client
	own    *http.Transport // the seed's transport; nil when Config.Transport is set
	all    []*slot         // every connection slot
	slots  chan *slot      // the free ones
	life   context.Context // cancelled by Drop
	kill   context.CancelCauseFunc

	bytes, wasted, requests, errs atomic.Int64

	mu       sync.Mutex
	until    time.Time // backing off before this
	failures int       // consecutive failures
	epoch    uint64    // bumped by every counted failure (see fail)
	strikes  int
	dropped  error // the drop reason; nil while usable
	lastErr  error
	avail    avail
}

// New returns a seed serving info's data from rawURL (a url-list entry).
// A single-file torrent's URL is the file itself (the torrent's name is
// appended when it ends in '/'); a multi-file torrent's URL is a directory
// under which each file is <name>/<path...>, each component escaped. The
// info must stay unchanged while the seed is used. Errors wrap ErrBadURL
// (or ErrForbiddenAddress for an unusable IP literal).
func New(info *metainfo.Info, rawURL string, cfg Config) (*Seed, error) {
	if info == nil || len(info.Files) == 0 || info.PieceLength <= 0 || len(info.Pieces) == 0 {
		return nil, errors.New("webseed: empty torrent info")
	}
	u, err := parseSeedURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg.fill()
	s := &Seed{info: info, raw: redact(rawURL), urls: newURLMap(u, info), cfg: cfg,
		slots: make(chan *slot, cfg.MaxConns)}
	s.avail.init(info)
	g := &addrGuard{}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil {
		if err := g.check(a); err != nil {
			return nil, err
		}
	}
	rt := cfg.Transport
	if rt == nil {
		s.own = newTransport(g, cfg.MaxConns)
		rt = s.own
	}
	s.client = &http.Client{Transport: rt, CheckRedirect: checkRedirect(g, cfg.MaxRedirects)}
	for range cfg.MaxConns {
		sl := newSlot(s)
		s.all = append(s.all, sl)
		s.slots <- sl
	}
	s.life, s.kill = context.WithCancelCause(context.Background())
	return s, nil
}

// URL returns the seed's URL without its query (for display).
func (s *Seed) URL() string { return s.raw }

// FileURL returns the URL file i of the torrent is fetched from. It panics
// if i is out of range.
func (s *Seed) FileURL(i int) string { return s.urls.fileURL(&s.info.Files[i]) }

// admit returns the current failure epoch, or why no request may start.
func (s *Seed) admit() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped != nil {
		return 0, fmt.Errorf("%w: %w", ErrDropped, s.dropped)
	}
	if time.Now().Before(s.until) {
		return 0, &BackoffError{Until: s.until}
	}
	return s.epoch, nil
}

// fail records a failed request that started in epoch. Only the first
// failure of an epoch extends the backoff: requests that were in flight
// together fail together, and one bad moment is one failure, not four.
func (s *Seed) fail(epoch uint64, err error, retryAfter time.Duration) {
	s.errs.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err
	if s.epoch != epoch {
		return
	}
	s.epoch++
	s.failures++
	d := s.cfg.BackoffMin
	for i := 1; i < s.failures && d < s.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(max(d, retryAfter), s.cfg.BackoffMax)
	s.until = time.Now().Add(d)
}

// succeed ends the run of failures (unless a failure since the request
// started has opened a new one).
func (s *Seed) succeed(epoch uint64) {
	s.mu.Lock()
	if s.epoch == epoch {
		s.failures = 0
	}
	s.mu.Unlock()
}

// Strike charges the seed with a piece that failed verification after it
// contributed to it, as the core charges a peer. At MaxStrikes strikes the
// seed is dropped (reason ErrBadData); Strike reports whether it now is.
func (s *Seed) Strike() (dropped bool) {
	s.mu.Lock()
	s.strikes++
	drop := s.strikes >= s.cfg.MaxStrikes
	s.mu.Unlock()
	if drop {
		s.Drop(ErrBadData)
	}
	return drop
}

// Drop stops the seed for good: Fetch calls in flight are cancelled and
// return an error wrapping ErrDropped, and so does every later one. reason
// (nil for none given) is kept in Stats.DropReason; the first Drop's
// reason stays. Drop does not wait for the fetches in flight (Close does).
func (s *Seed) Drop(reason error) {
	if reason == nil {
		reason = errors.New("dropped by the caller")
	}
	s.mu.Lock()
	if s.dropped == nil {
		s.dropped = reason
	}
	s.mu.Unlock()
	s.kill(ErrDropped)
	for _, sl := range s.all {
		sl.abort(ErrDropped)
	}
	if s.own != nil {
		s.own.CloseIdleConnections()
	}
}

// Close drops the seed (if it was not already) and waits for its fetches
// in flight to return, then closes its connections.
func (s *Seed) Close() {
	s.Drop(errClosed)
	held := make([]*slot, 0, s.cfg.MaxConns)
	for range s.cfg.MaxConns {
		held = append(held, <-s.slots)
	}
	if s.own != nil {
		s.own.CloseIdleConnections()
	}
	for _, sl := range held {
		s.slots <- sl
	}
}

// Stats returns a snapshot of the seed's counters and state.
func (s *Seed) Stats() Stats {
	st := Stats{
		Bytes:    s.bytes.Load(),
		Wasted:   s.wasted.Load(),
		Requests: s.requests.Load(),
		Errors:   s.errs.Load(),
		InFlight: s.cfg.MaxConns - len(s.slots),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Failures, st.Strikes, st.LastError, st.DropReason = s.failures, s.strikes, s.lastErr, s.dropped
	st.Unservable = s.avail.nbad
	switch {
	case s.dropped != nil:
		st.State = Dropped
	case time.Now().Before(s.until):
		st.State, st.RetryAt = BackingOff, s.until
	}
	return st
}

// Servable reports whether the seed can still serve piece i (false once a
// file the piece overlaps turned out missing there). It panics if i is out
// of range.
func (s *Seed) Servable(i int) bool {
	if i < 0 || i >= len(s.info.Pieces) {
		panic(fmt.Sprintf("webseed: piece %d out of range [0,%d)", i, len(s.info.Pieces)))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.avail.bad.has(i)
}

// AllServable reports whether the seed can serve every piece (so that the
// caller may announce it to its picker as having all).
func (s *Seed) AllServable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.avail.nbad == 0
}

// AppendBitfield appends the pieces the seed can serve to dst as a BEP 3
// bitfield (piece 0 in the high bit of the first byte, spare bits clear)
// and returns the extended slice.
func (s *Seed) AppendBitfield(dst []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.avail.appendBitfield(dst, len(s.info.Pieces))
}

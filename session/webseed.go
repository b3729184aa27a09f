package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/statem"
	"github.com/effusion-bt/effusion/webseed"
)

// Web seeds (BEP 19). Each URL of the torrent's url-list (a magnet's ws=),
// of Config.WebSeeds and of AddWebSeeds is a webseed.Seed that the server
// drives as a virtual peer of the core, the way webseed/doc.go prescribes:
// registered with HAVE ALL (or the pieces it can serve), unchoked, never
// interested in us. The core's requests to it queue per seed and are
// coalesced into runs of consecutive blocks, one Fetch each, at most
// MaxConns per seed at a time, each in a goroutine of its own (the server's
// WaitGroup, waited for when the session ends). A run reads the HTTP body
// straight into pooled blocks of the environment's budget and posts each
// block as it fills, so that web-seed data meets a peer's at BlockReceived
// and goes through the same hashing and writing. Seeds run only while
// wanted pieces are missing: from the end of the check (never in a
// magnet's Metadata phase) until the download completes or the session
// stops, and again when a file is wanted anew.

const (
	// MaxWebSeeds bounds the web seeds of a session: URLs beyond it (a
	// torrent is untrusted input) are ignored, each seed holding up to
	// its MaxConns connections and runs of blocks.
	MaxWebSeeds = 16
	// seedRunBlocks caps a run (one Fetch): 4 MiB of 16 KiB blocks.
	seedRunBlocks = 256
	// seedMinRun: while a seed has runs in flight, a new one waits for
	// this many queued blocks (256 KiB), so that the requests the core
	// sends one at a time as blocks arrive are not an HTTP request each.
	// With no run in flight, whatever is queued starts.
	seedMinRun = 16
	// seedReqQ is the "reqq" a seed is registered with: the core caps it
	// at its MaxRequests and sizes the pipeline from the measured rate.
	seedReqQ = 1024
	// webSeedUserAgent is sent when Config.WebSeed.UserAgent is empty.
	webSeedUserAgent = "Effusion/0.1"
)

// errNothingServable is why a seed that has none of the torrent's files is
// dropped.
var errNothingServable = errors.New("session: the web seed serves no file of the torrent")

// WebSeedState is where a web seed stands, in Stats.
type WebSeedState uint8

// States of a web seed.
const (
	// WebSeedIdle: not fetching, because no wanted piece is missing (or
	// the check is not over).
	WebSeedIdle WebSeedState = iota + 1
	// WebSeedActive: a source of pieces for the core's picker.
	WebSeedActive
	// WebSeedBackingOff: a request failed (5xx, timeout, connection
	// error, malformed answer); asked again from RetryAt.
	WebSeedBackingOff
	// WebSeedDropped: not used again in this session (data that failed
	// verification MaxStrikes times, no file of the torrent there, or a
	// URL refused).
	WebSeedDropped
)

var webSeedStateNames = [...]string{"", "idle", "active", "backing off", "dropped"}

// String returns the state's name.
func (s WebSeedState) String() string {
	if int(s) < len(webSeedStateNames) && s != 0 {
		return webSeedStateNames[s]
	}
	return fmt.Sprintf("webseedstate(%d)", uint8(s))
}

// WebSeedStats describes one web seed of a session.
type WebSeedStats struct {
	URL   string // without its query
	State WebSeedState
	// Downloaded is the payload bytes received from it (including blocks
	// later discarded); DownloadRate its rate now, in bytes per second.
	Downloaded   int64
	DownloadRate float64
	Requests     int64     // HTTP requests sent
	Errors       int64     // failed requests
	Strikes      int       // pieces it sent that failed verification, as charged
	Unservable   int       // pieces it cannot serve (a file missing there)
	RetryAt      time.Time // the end of the backoff, when BackingOff
	// LastError is the last failure (for a dropped seed, why it was
	// dropped); nil if none.
	LastError error
}

// AddWebSeeds adds web seed URLs (BEP 19) to the session, beside the
// torrent's url-list; they are used at once if pieces are missing, else
// when some are. A URL already known is skipped, and beyond MaxWebSeeds in
// all URLs are ignored (logged). If a URL is unusable it returns an error
// wrapping webseed.ErrBadURL and adds none; ErrStopped once the session
// has ended. It never blocks.
func (s *Session) AddWebSeeds(urls ...string) error {
	for _, u := range urls {
		if err := webseed.CheckURL(u); err != nil {
			return err
		}
	}
	if len(urls) > 0 && !s.post(evAddWebSeeds{slices.Clone(urls)}) {
		return ErrStopped
	}
	return nil
}

// webTally lets Stats read the seeds' byte counts from any goroutine.
type webTally struct {
	seeds atomic.Pointer[[]*webseed.Seed]
}

// add publishes a new seed (server goroutine only).
func (t *webTally) add(ws *webseed.Seed) {
	var next []*webseed.Seed
	if p := t.seeds.Load(); p != nil {
		next = slices.Clone(*p)
	}
	next = append(next, ws)
	t.seeds.Store(&next)
}

// bytes returns the payload bytes received from every web seed so far.
func (t *webTally) bytes() int64 {
	p := t.seeds.Load()
	if p == nil {
		return 0
	}
	var n int64
	for _, ws := range *p {
		n += ws.Stats().Bytes
	}
	return n
}

// webSeeds is the session's web seeds: server goroutine only, but for the
// run goroutines' WaitGroup.
type webSeeds struct {
	urls   []string           // every URL asked for, deduplicated, at most MaxWebSeeds
	seeds  []*webSeed         // one per URL, made at the first start
	on     bool               // pieces are missing: the seeds are to be registered with the core
	ctx    context.Context    // parent of every fetch (nil before the first start)
	cancel context.CancelFunc // ends every fetch, when the session ends
	wg     sync.WaitGroup     // the run goroutines
	rates  rateMeter          // web-seed bytes per second (the down half)
	depth  int                // nested performs while registering
}

// webSeed is one web seed.
type webSeed struct {
	ws      *webseed.Seed // nil when the URL was refused (err says why)
	url     string        // for Stats: without its query
	err     error
	id      core.PeerID        // its handle in the core; NoPeer while not registered
	reg     context.Context    // this registration's fetches...
	unreg   context.CancelFunc // ...cancelled when it ends
	pending []core.Message     // requested blocks not yet in a run, in request order
	runs    []*seedRun         // runs in flight, of any registration
	choked  bool               // backing off: the core was told it chokes us, until seedRetry
	gone    bool               // dropped for good
}

// seedRun is one Fetch: consecutive requested blocks, filled in order.
type seedRun struct {
	s         *webSeed
	id        core.PeerID // the registration it was requested under
	off, end  int64       // its bytes in the torrent
	reqs      []core.Message
	cancelled []bool        // the core cancelled the block: neither delivered nor rejected
	got       int           // blocks the server has received from it
	evs       []evSeedBlock // one per block, posted by pointer: no allocation per block
}

// seedRetry names the generic timeout that ends a seed's backoff.
type seedRetry struct{ s *webSeed }

// Events of the web seeds.
type (
	// evSeedBlock: the next block of a run, filled (posted as a pointer
	// into its run's evs).
	evSeedBlock struct {
		r *seedRun
		b *block
	}
	// evSeedDone: a run's Fetch returned (after its blocks were posted).
	evSeedDone struct {
		r   *seedRun
		err error
	}
	// evAddWebSeeds: AddWebSeeds.
	evAddWebSeeds struct{ urls []string }
)

func (e evAddWebSeeds) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	srv.addWebSeeds(e.urls)
	if ph == Checking || ph == Metadata {
		return srv.keepPhase() // made and started once the check is over
	}
	return srv.step(ph)
}

// addWebSeeds records URLs and, after the first start, makes their seeds
// (registered by the next perform while the seeds are on).
func (srv *server) addWebSeeds(urls []string) {
	w := &srv.web
	for _, u := range urls {
		if slices.Contains(w.urls, u) {
			continue
		}
		if len(w.urls) >= MaxWebSeeds {
			srv.log.Warn("web seed ignored: too many", "url", displayURL(u), "max", MaxWebSeeds)
			continue
		}
		w.urls = append(w.urls, u)
		if w.ctx != nil {
			srv.makeSeed(u)
		}
	}
}

// makeSeed makes the seed of a URL; a refused URL is kept, dropped, for
// Stats.
func (srv *server) makeSeed(raw string) {
	s := &webSeed{url: displayURL(raw)}
	cfg := srv.cfg.WebSeed
	if cfg.UserAgent == "" {
		cfg.UserAgent = webSeedUserAgent
	}
	ws, err := webseed.New(&srv.mi.Info, raw, cfg)
	if err != nil {
		s.err, s.gone = err, true
		srv.log.Warn("web seed refused", "url", s.url, "err", err)
	} else {
		s.ws, s.url = ws, ws.URL()
		srv.s.web.add(ws)
	}
	srv.web.seeds = append(srv.web.seeds, s)
}

// displayURL is a URL as Stats and logs show it: no query, bounded.
func displayURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if len(raw) > 256 {
		raw = raw[:256] + "…"
	}
	return raw
}

// startWebSeeds turns the seeds on while wanted pieces are missing: made
// at the first call (the torrent's url-list, then Config.WebSeeds, then
// those added before), registered with the core by the next perform.
func (srv *server) startWebSeeds() {
	w := &srv.web
	if srv.core == nil || srv.core.Complete() {
		return
	}
	if w.ctx == nil {
		w.ctx, w.cancel = context.WithCancel(context.Background())
		early := w.urls
		w.urls = nil
		srv.addWebSeeds(srv.mi.URLList)
		srv.addWebSeeds(srv.cfg.WebSeeds)
		srv.addWebSeeds(early)
	}
	w.on = true
}

// stopWebSeeds takes the seeds out of the core (the download is complete):
// their fetches are cancelled; they stay for Stats and a later start.
func (srv *server) stopWebSeeds() {
	w := &srv.web
	w.on = false
	for _, s := range w.seeds {
		srv.unregisterSeed(s)
	}
}

// closeWebSeeds ends every fetch, waits for the run goroutines and closes
// the seeds' connections (the session is ending).
func (srv *server) closeWebSeeds() {
	w := &srv.web
	w.on = false
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.wg.Wait()
	for _, s := range w.seeds {
		if s.ws != nil {
			s.ws.Close()
		}
	}
}

// active reports whether some seed is to run (the core's clock must tick).
func (w *webSeeds) active() bool {
	if !w.on {
		return false
	}
	for _, s := range w.seeds {
		if !s.gone {
			return true
		}
	}
	return false
}

// byID returns the registered seed with core handle id, or nil.
func (w *webSeeds) byID(id core.PeerID) *webSeed {
	if id == core.NoPeer {
		return nil
	}
	for _, s := range w.seeds {
		if s.id == id {
			return s
		}
	}
	return nil
}

// registerSeed gives the core a seed: a fast peer that has everything it
// can serve and unchokes us (unless it is backing off). A seed that can
// serve nothing is dropped instead.
func (srv *server) registerSeed(s *webSeed) bool {
	all := s.ws.AllServable()
	var bits []byte
	if !all {
		bits = s.ws.AppendBitfield(nil)
		if !slices.ContainsFunc(bits, func(b byte) bool { return b != 0 }) {
			srv.dropSeed(s, errNothingServable)
			return false
		}
	}
	if !srv.ticking {
		srv.core.Tick(time.Since(srv.start)) // as attach does: the clock may stand still
	}
	id := srv.core.PeerConnected(core.Caps{Fast: true, ReqQ: seedReqQ})
	if id == core.NoPeer {
		srv.dropSeed(s, ErrTooManyPeers)
		return false
	}
	s.id = id
	s.reg, s.unreg = context.WithCancel(srv.web.ctx)
	if all {
		srv.core.PeerHaveAll(id)
	} else {
		srv.core.PeerBitfield(id, bits)
	}
	if !s.choked {
		srv.core.PeerUnchoke(id)
	}
	return true
}

// unregisterSeed takes a seed out of the core: its requests return to the
// pool and the fetches of this registration are cancelled (their blocks
// would be discarded).
func (srv *server) unregisterSeed(s *webSeed) {
	if s.id == core.NoPeer {
		return
	}
	srv.core.PeerGone(s.id)
	s.id = core.NoPeer
	s.unreg()
	s.pending = s.pending[:0]
}

// dropSeed stops using a seed for the rest of the session; reason, when
// not nil, is recorded as the seed's drop reason.
func (srv *server) dropSeed(s *webSeed, reason error) {
	srv.unregisterSeed(s)
	s.gone = true
	if reason != nil {
		s.ws.Drop(reason)
	}
	srv.log.Info("web seed dropped", "url", s.url, "reason", s.ws.Stats().DropReason)
}

// seedMessage carries out a message of the core's for a web seed: a
// request is queued, a cancel unqueues it (or marks it in its run);
// choking and interest mean nothing to an HTTP server.
func (srv *server) seedMessage(m core.Message) {
	if m.Kind != core.MsgRequest && m.Kind != core.MsgCancel {
		return
	}
	s := srv.web.byID(m.Peer)
	if s == nil {
		return
	}
	if m.Kind == core.MsgRequest {
		s.pending = append(s.pending, m)
		return
	}
	for i, p := range s.pending {
		if p.Piece == m.Piece && p.Begin == m.Begin {
			s.pending = slices.Delete(s.pending, i, i+1)
			return
		}
	}
	off := srv.blockOff(m)
	for _, r := range s.runs {
		if r.id != s.id || off < r.off || off >= r.end {
			continue
		}
		for k, q := range r.reqs {
			if q.Piece == m.Piece && q.Begin == m.Begin {
				r.cancelled[k] = true
				return
			}
		}
	}
}

// seedDropped carries out the core's drop of a seed. Data that failed
// verification charges the seed (Strike), which is dropped at its
// MaxStrikes and otherwise registered afresh; at completion (both seeds)
// it only leaves the core.
func (srv *server) seedDropped(d core.Drop) {
	s := srv.web.byID(d.Peer)
	if s == nil {
		return
	}
	switch d.Reason {
	case core.ReasonBadData:
		if s.ws.Strike() {
			srv.dropSeed(s, nil) // Strike dropped it, with ErrBadData
			return
		}
		srv.log.Info("web seed sent data that failed verification", "url", s.url, "strikes", s.ws.Stats().Strikes)
		srv.unregisterSeed(s)
	case core.ReasonBothSeeds:
		srv.unregisterSeed(s)
	default:
		srv.dropSeed(s, fmt.Errorf("session: the core dropped the web seed: %s", d.Reason))
	}
}

// webSeedsAfter ends perform: seeds that are on and not registered are
// registered (and perform runs again for their greeting and first
// requests), then runs start wherever requests are queued.
func (srv *server) webSeedsAfter() {
	w := &srv.web
	if len(w.seeds) == 0 {
		return
	}
	if w.on && w.depth < 2 && !srv.core.Complete() {
		registered := false
		for _, s := range w.seeds {
			if !s.gone && s.id == core.NoPeer && srv.registerSeed(s) {
				registered = true
			}
		}
		if registered {
			w.depth++
			srv.perform() // ends with webSeedsAfter, which starts the runs
			w.depth--
			return
		}
	}
	for _, s := range w.seeds {
		srv.startRuns(s)
	}
}

// blockOff is a request's offset in the torrent.
func (srv *server) blockOff(m core.Message) int64 {
	return int64(m.Piece)*srv.g.pieceLen + int64(m.Begin)
}

// startRuns starts runs of a seed's queued requests while it has
// connections to spare: consecutive blocks, up to 4 MiB, the queue spread
// over the free connections, at least seedMinRun blocks a run while others
// are in flight.
func (srv *server) startRuns(s *webSeed) {
	conns := srv.cfg.WebSeed.MaxConns
	if conns <= 0 {
		conns = webseed.DefaultMaxConns
	}
	for !s.choked && s.id != core.NoPeer && len(s.pending) > 0 && len(s.runs) < conns {
		if len(s.runs) > 0 && len(s.pending) < seedMinRun {
			return
		}
		free := conns - len(s.runs)
		size := min(max((len(s.pending)+free-1)/free, seedMinRun), seedRunBlocks)
		n := 1
		for n < len(s.pending) && n < size && srv.blockOff(s.pending[n]) == srv.blockOff(s.pending[n-1])+int64(s.pending[n-1].Length) {
			n++
		}
		reqs := slices.Clone(s.pending[:n])
		s.pending = slices.Delete(s.pending, 0, n)
		last := reqs[n-1]
		r := &seedRun{s: s, id: s.id, off: srv.blockOff(reqs[0]), end: srv.blockOff(last) + int64(last.Length),
			reqs: reqs, cancelled: make([]bool, n), evs: make([]evSeedBlock, n)}
		s.runs = append(s.runs, r)
		ctx, ws, sess, f := s.reg, s.ws, srv.s, srv.f
		srv.web.wg.Go(func() { r.fetch(ctx, ws, sess, f) })
	}
}

// fetch is a run's goroutine: it takes a pooled block per request (from
// the environment's budget, as a peer's reader does), fetches the run into
// them and posts each block as it fills, then the run's end. Blocks not
// handed on go back to the pool.
func (r *seedRun) fetch(ctx context.Context, ws *webseed.Seed, sess *Session, f *torrentFacts) {
	pool := f.env.blocks
	blocks := make([]*block, len(r.reqs))
	bufs := make([][]byte, len(r.reqs))
	var err error
	for i, m := range r.reqs {
		if err = ctx.Err(); err != nil {
			break
		}
		b := pool.get(&f.held)
		b.index, b.begin, b.n = m.Piece, m.Begin, m.Length
		blocks[i], bufs[i] = b, b.data[:m.Length]
	}
	if err == nil {
		_, err = ws.Fetch(ctx, r.off, bufs, func(i int) {
			b := blocks[i]
			blocks[i] = nil
			// The rate limits, as a peer's reader applies them block by
			// block (the wait holds the next read back).
			if f.down.wait(ctx, int(b.n)) == nil {
				f.env.down.wait(ctx, int(b.n))
			}
			ev := &r.evs[i]
			ev.r, ev.b = r, b
			if !sess.post(ev) {
				pool.put(b)
			}
		})
	}
	for _, b := range blocks {
		if b != nil {
			pool.put(b)
		}
	}
	sess.post(evSeedDone{r, err})
}

func (e *evSeedBlock) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	r, b := e.r, e.b
	k := r.got
	r.got++
	if r.id != r.s.id || k >= len(r.reqs) || r.cancelled[k] {
		srv.env.blocks.put(b) // an old registration's, or cancelled
		return srv.keepPhase()
	}
	if srv.core.BlockReceived(r.id, b.index, b.begin, b.n, b) != core.BlockAccepted {
		srv.env.blocks.put(b)
	}
	return srv.step(ph)
}

// apply maps a run's end to the core (webseed/doc.go): the blocks not
// delivered are rejected, back to the pool for any source; a seed backing
// off chokes us until its retry time; one lacking a file is registered
// again with what it can serve.
func (e evSeedDone) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	r, s := e.r, e.r.s
	if i := slices.Index(s.runs, r); i >= 0 {
		s.runs = slices.Delete(s.runs, i, i+1)
	}
	if e.err == nil || r.id != s.id {
		return srv.step(ph) // done, or an old registration's (cancelled)
	}
	var actions []statem.Action
	switch {
	case errors.Is(e.err, webseed.ErrUnavailable):
		srv.log.Info("web seed lacks part of the torrent", "url", s.url, "err", e.err)
		srv.unregisterSeed(s) // registered again, with its pieces, by perform
		return srv.step(ph)
	case errors.Is(e.err, webseed.ErrDropped):
		srv.dropSeed(s, nil)
		return srv.step(ph)
	}
	if st := s.ws.Stats(); st.State == webseed.BackingOff {
		actions = srv.chokeSeed(s, st.RetryAt)
	}
	for k := r.got; k < len(r.reqs); k++ {
		if !r.cancelled[k] {
			m := r.reqs[k]
			srv.core.PeerReject(r.id, m.Piece, m.Begin, m.Length)
		}
	}
	srv.log.Debug("web seed request failed", "url", s.url, "err", e.err)
	return srv.step(ph, actions...)
}

// chokeSeed has the core treat a seed that backs off as a peer that
// choked us (its queued requests rejected, back to the pool) until a
// generic timeout at the end of the backoff.
func (srv *server) chokeSeed(s *webSeed, until time.Time) []statem.Action {
	if !s.choked {
		s.choked = true
		srv.core.PeerChoke(s.id)
		for _, m := range s.pending {
			srv.core.PeerReject(s.id, m.Piece, m.Begin, m.Length)
		}
		s.pending = s.pending[:0]
	}
	return []statem.Action{statem.SetGenericTimeout(seedRetry{s}, max(time.Until(until), time.Millisecond), nil)}
}

// retrySeed ends a seed's backoff (or waits on if it was extended).
func (srv *server) retrySeed(s *webSeed, ph Phase) statem.Result[Phase, *server] {
	if ph == Stopped || ph == Failed || !s.choked {
		return srv.keepPhase()
	}
	if st := s.ws.Stats(); st.State == webseed.BackingOff && !s.gone {
		return srv.keepPhase(statem.SetGenericTimeout(seedRetry{s}, max(time.Until(st.RetryAt), time.Millisecond), nil))
	}
	s.choked = false
	if s.id == core.NoPeer {
		return srv.keepPhase()
	}
	srv.core.PeerUnchoke(s.id)
	return srv.step(ph)
}

// webSeedsTick samples the web-seed byte count for its rate.
func (srv *server) webSeedsTick(now time.Time) {
	w := &srv.web
	if len(w.seeds) == 0 {
		return
	}
	w.rates.update(now, srv.s.web.bytes(), 0)
	if !w.active() {
		w.rates.down = 0
	}
}

// webSeedStats describes the seeds for Stats.
func (srv *server) webSeedStats() []WebSeedStats {
	w := &srv.web
	if len(w.seeds) == 0 {
		return nil
	}
	out := make([]WebSeedStats, 0, len(w.seeds))
	for _, s := range w.seeds {
		ss := WebSeedStats{URL: s.url, State: WebSeedIdle}
		if s.ws == nil {
			ss.State, ss.LastError = WebSeedDropped, s.err
			out = append(out, ss)
			continue
		}
		st := s.ws.Stats()
		ss.Downloaded, ss.Requests, ss.Errors = st.Bytes, st.Requests, st.Errors
		ss.Strikes, ss.Unservable, ss.LastError = st.Strikes, st.Unservable, st.LastError
		switch {
		case s.gone:
			ss.State = WebSeedDropped
			if st.DropReason != nil {
				ss.LastError = st.DropReason
			}
		case st.State == webseed.BackingOff:
			ss.State, ss.RetryAt = WebSeedBackingOff, st.RetryAt
		case s.id != core.NoPeer:
			ss.State = WebSeedActive
		}
		if s.id != core.NoPeer {
			if cs, ok := srv.core.PeerStats(s.id); ok {
				ss.DownloadRate = cs.DownloadRate
			}
		}
		out = append(out, ss)
	}
	return out
}

package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	// wantless: out of the core because it has no piece we still want,
	// until the wanted pieces change (startWebSeeds); a peer that is
	// neither interesting nor interested would be the core's pick to
	// evict, which a seed cannot be.
	wantless bool
}

// evAddWebSeeds: AddWebSeeds.
type evAddWebSeeds struct{ urls []string }

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
		n := 256
		for n > 0 && !utf8.RuneStart(raw[n]) {
			n--
		}
		raw = raw[:n] + "…"
	}
	return raw
}

// startWebSeeds turns the seeds on while wanted pieces are missing (and
// after the wanted pieces changed): made at the first call (the torrent's
// url-list, then Config.WebSeeds, then those added before), registered
// with the core by the next perform.
func (srv *server) startWebSeeds() {
	w := &srv.web
	if srv.core == nil || srv.core.Complete() {
		return
	}
	for _, s := range w.seeds {
		s.wantless = false
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
			if !s.gone && !s.wantless && s.id == core.NoPeer && srv.registerSeed(s) {
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

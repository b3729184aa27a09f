package session

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/statem"
	"github.com/effusion-bt/effusion/webseed"
)

// A web seed's runs: the core's requests to the seed, queued, become
// Fetch calls of consecutive blocks, each in a goroutine that reads the
// body into pooled blocks and posts them as they fill; a run's end maps to
// the core as webseed/doc.go prescribes (rejects, choke while backing off).

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
)

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
		ctx, ws, f := s.reg, s.ws, srv.f
		var to sink = srv.s
		srv.web.wg.Go(func() { r.fetch(ctx, ws, to, f) })
	}
}

// fetch is a run's goroutine: it takes a pooled block per request (from
// the environment's budget, as a peer's reader does), fetches the run into
// them and posts each block as it fills, then the run's end. Blocks not
// handed on go back to the pool.
func (r *seedRun) fetch(ctx context.Context, ws *webseed.Seed, to sink, f *torrentFacts) {
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
			if !to.post(ev) {
				pool.put(b)
			}
		})
	}
	for _, b := range blocks {
		if b != nil {
			pool.put(b)
		}
	}
	to.post(evSeedDone{r, err})
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

package session

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/connection"
	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/statem"
	"github.com/effusion-bt/effusion/tracker"
	"golang.org/x/time/rate"
)

// server is the session machine's handler and data: everything about the
// torrent that only the session goroutine touches.
type server struct {
	s   *Session
	m   *statem.Machine[Phase, *server] // set right after Start
	cfg Config
	log *slog.Logger

	f      *torrentFacts // geometry and have-set shared with peer goroutines
	store  store         // the torrent's files
	core   *core.Torrent // the pure picker/choker/bookkeeping
	hasher *hasher       // verifies and writes assembled pieces
	start  time.Time     // origin of the core's clock

	listener    *Listener // where incoming peers arrive
	ownListener bool      // we opened it (and close it on stop)
	announcer   *tracker.Announcer

	peers     map[*Peer]core.PeerID                          // connected peers and their core handles
	bySlot    []*Peer                                        // core slot -> peer
	byPeerID  map[[20]byte]*Peer                             // for duplicate detection
	clients   map[*Peer]string                               // "v" from the extension handshake
	partial   map[uint32]*hashJob                            // pieces being assembled
	hashing   int64                                          // bytes of the pieces with the hasher
	book      *addrBook                                      // peer addresses to dial
	procs     map[netip.AddrPort]*connection.Conn[*peerProc] // outgoing connection processes
	incoming  int                                            // connected incoming peers
	bannedIDs map[[20]byte]struct{}                          // peer ids of banned peers
	checkCtx  context.Context                                // the start-up check's
	checkStop context.CancelFunc                             // cancels the start-up check
	checkDone chan struct{}                                  // closed when the check has returned

	failed      error // the fatal error, once Failed
	finalPhase  Phase // Stopped or Failed, once the machine is stopping
	wasComplete bool  // every wanted piece verified (completion handled)
	rates       rateMeter
}

func (srv *server) handler() statem.Handler[Phase, *server] { return srv }

// Init opens storage, the core and the listener; the check of existing
// data starts right after (beginCheck).
func (srv *server) Init(ctx context.Context) (Phase, *server, []statem.Action, error) {
	c := srv.cfg
	info := &c.Torrent.Info
	st, err := openStore(c.Dir, info)
	if err != nil {
		return 0, nil, nil, err
	}
	n := info.NumPieces()
	tc, err := core.New(core.Config{
		NumPieces:   n,
		PieceLength: info.PieceLength,
		TotalLength: info.TotalLength(),
		Seed:        uint64(time.Now().UnixNano()),
	})
	if err != nil {
		st.Close()
		return 0, nil, nil, err
	}
	srv.store = st
	srv.core = tc
	srv.start = time.Now()
	srv.f = &torrentFacts{
		infoHash:  c.Torrent.InfoHash,
		peerID:    c.PeerID,
		numPieces: n,
		pieceLen:  info.PieceLength,
		total:     info.TotalLength(),
		have:      newAtomicBits(n),
		store:     st,
		log:       srv.log,
	}
	if c.DownloadRate > 0 {
		srv.f.downLimit = rate.NewLimiter(rate.Limit(c.DownloadRate), max(c.DownloadRate, peerwire.BlockSize))
	}
	if c.UploadRate > 0 {
		srv.f.upLimit = rate.NewLimiter(rate.Limit(c.UploadRate), max(c.UploadRate, peerwire.BlockSize))
	}
	srv.peers = make(map[*Peer]core.PeerID)
	srv.byPeerID = make(map[[20]byte]*Peer)
	srv.clients = make(map[*Peer]string)
	srv.partial = make(map[uint32]*hashJob)
	srv.book = newAddrBook()
	srv.procs = make(map[netip.AddrPort]*connection.Conn[*peerProc])
	srv.bannedIDs = make(map[[20]byte]struct{})
	srv.listener = c.Listener
	if srv.listener == nil {
		l, err := Listen(ctx, c.ListenAddr, srv.log)
		if err != nil {
			st.Close()
			return 0, nil, nil, err
		}
		srv.listener, srv.ownListener = l, true
	}
	srv.hasher = newHasher(st, func(r hashResult) { srv.m.Cast(r) })
	srv.checkCtx, srv.checkStop = context.WithCancel(context.Background())
	srv.checkDone = make(chan struct{})
	srv.publish(Checking)
	return Checking, srv, []statem.Action{statem.SetGenericTimeout(tickTimer{}, tickInterval, nil)}, nil
}

// beginCheck hashes the existing data in the background. Start calls it
// once the machine's handle is known (the result is cast to it).
func (srv *server) beginCheck() {
	st, m, done, ctx := srv.store, srv.m, srv.checkDone, srv.checkCtx
	go func() {
		defer close(done)
		have, err := st.Check(ctx)
		m.Cast(evChecked{have: have, err: err})
	}()
}

// HandleEvent dispatches one event; the phase decides what is allowed.
func (srv *server) HandleEvent(ctx context.Context, ev statem.Event, ph Phase, _ *server) statem.Result[Phase, *server] {
	switch ev.Type {
	case statem.GenericTimeout:
		if ph == Checking {
			return srv.keepPhase(statem.SetGenericTimeout(tickTimer{}, tickInterval, nil))
		}
		srv.tick(ph)
		return srv.step(ph, statem.SetGenericTimeout(tickTimer{}, tickInterval, nil))
	case statem.Internal:
		if t, ok := ev.Content.(terminate); ok {
			return statem.Stop[Phase](t.err, srv)
		}
	case statem.Call:
		if _, ok := ev.Content.(stopReq); ok && ph != Stopped && ph != Failed {
			return srv.shutdown(Stopped, nil, statem.Reply(ev.From, nil))
		}
		return srv.keepPhase(statem.ReplyError(ev.From, fmt.Errorf("session: unknown call %T", ev.Content)))
	}
	if ph == Stopped || ph == Failed {
		return srv.keepPhase() // only the terminate event matters now
	}
	switch e := ev.Content.(type) {
	case evChecked:
		if ph != Checking {
			return srv.keepPhase()
		}
		return srv.checked(e)
	case evPeerUp, evPeerMsg, evPeerGone:
		if ph == Checking {
			return srv.keepPhase(statem.Postpone())
		}
	}
	switch e := ev.Content.(type) {
	case *block:
		srv.onBlock(e)
	case evPeerUp:
		srv.onPeerUp(e.p, ph)
	case evPeerMsg:
		srv.onPeerMsg(e.p, e.m)
	case evPeerGone:
		srv.onPeerGone(e.p)
	case hashResult:
		srv.hashing -= srv.core.PieceLen(e.index)
		if e.err != nil {
			return srv.shutdown(Failed, fmt.Errorf("session: writing piece %d: %w", e.index, e.err))
		}
		if e.digests != nil {
			srv.core.PieceHashedDigests(e.index, e.ok, e.digests)
		} else {
			srv.core.PieceHashed(e.index, e.ok)
		}
		if !e.ok {
			srv.log.Debug("piece failed verification", "piece", e.index)
		}
	case evAddPeers:
		for _, a := range e.addrs {
			srv.book.add(a)
		}
		if ph != Checking {
			srv.dialMore()
		}
	case evOutDone:
		delete(srv.procs, e.addr)
		srv.book.done(e.addr, e.err)
		if ph != Checking {
			srv.dialMore()
		}
	default:
		srv.log.Warn("unexpected event", "event", ev.String())
		return srv.keepPhase()
	}
	if ph == Checking {
		return srv.keepPhase()
	}
	return srv.step(ph)
}

// checked ends the start-up check: the core learns what we have, and the
// session starts talking to the swarm.
func (srv *server) checked(e evChecked) statem.Result[Phase, *server] {
	if e.err != nil {
		srv.s.checkErr = e.err
		close(srv.s.checked)
		return srv.shutdown(Failed, fmt.Errorf("session: checking data: %w", e.err))
	}
	for _, i := range e.have {
		srv.core.SetHave(uint32(i))
		srv.f.have.Set(i)
	}
	ph := Downloading
	if srv.core.Complete() {
		ph = Seeding
		srv.wasComplete = true
	}
	srv.publish(ph) // before Await returns, so that Stats agrees with it
	if ph == Seeding {
		srv.s.markComplete()
	}
	close(srv.s.checked)
	srv.log.Info("data checked", "have", len(e.have), "pieces", srv.f.numPieces)
	if ph == Seeding && !srv.cfg.Seed {
		return srv.shutdown(Stopped, nil)
	}
	srv.startAnnouncer()
	for _, a := range srv.cfg.Peers {
		srv.book.add(a)
	}
	srv.dialMore()
	return statem.Next(ph, srv)
}

// step drains the core's decisions and performs them.
func (srv *server) step(ph Phase, actions ...statem.Action) statem.Result[Phase, *server] {
	rd := srv.core.Ready()
	for _, msg := range rd.Messages {
		p := srv.peerOf(msg.Peer)
		if p == nil {
			continue
		}
		switch msg.Kind {
		case core.MsgRequest:
			p.sendRequest(msg.Piece, msg.Begin, msg.Length)
		case core.MsgCancel:
			p.sendCancel(msg.Piece, msg.Begin, msg.Length)
		case core.MsgChoke:
			p.setChoking(true)
		case core.MsgUnchoke:
			p.setChoking(false)
		case core.MsgInterested:
			p.sendSimple(peerwire.MsgInterested)
		case core.MsgNotInterested:
			p.sendSimple(peerwire.MsgNotInterested)
		}
	}
	for _, i := range rd.Hash {
		j := srv.partial[i]
		delete(srv.partial, i)
		if j == nil || !j.full() {
			// Cannot happen if the core and we agree; fail the piece safely.
			srv.log.Error("core asked to hash a piece we did not assemble", "piece", i)
			if j != nil {
				j.release()
			}
			srv.core.PieceHashed(i, false)
			continue
		}
		j.index = i
		j.want = srv.cfg.Torrent.Info.PieceHash(int(i))
		j.digests = srv.core.NeedDigests(i)
		srv.hashing += srv.core.PieceLen(i)
		// No other piece to come: the hasher need not wait for company.
		j.last = srv.core.Stats().Left <= srv.hashing
		srv.hasher.submit(j)
	}
	for _, i := range rd.Have {
		srv.f.have.Set(int(i))
		for p := range srv.peers {
			p.sendHave(i)
		}
	}
	for _, d := range rd.Drops {
		p := srv.peerOf(d.Peer)
		if p == nil {
			continue
		}
		var err error
		if d.Ban {
			srv.book.ban(p.addr)
			srv.bannedIDs[p.remote.PeerID] = struct{}{}
			err = fmt.Errorf("%w: %v: %s", ErrBanned, p.addr, d.Reason)
		} else {
			err = &ViolationError{Peer: p.addr, Reason: d.Reason.String()}
			if d.Reason == core.ReasonBothSeeds {
				err = errBothSeeds
			}
		}
		srv.log.Debug("dropping peer", "peer", p.addr, "reason", d.Reason, "ban", d.Ban)
		p.close(err)
	}
	if rd.Completed {
		return srv.completed(ph, actions...)
	}
	return srv.keepPhase(actions...)
}

// completed: every wanted piece is verified and written.
func (srv *server) completed(ph Phase, actions ...statem.Action) statem.Result[Phase, *server] {
	if srv.wasComplete {
		return srv.keepPhase(actions...) // complete since the check: nothing was downloaded
	}
	srv.wasComplete = true
	srv.log.Info("download complete", "elapsed", time.Since(srv.start).Round(time.Millisecond))
	if srv.announcer != nil {
		srv.announcer.Completed()
	}
	srv.publish(Seeding)
	srv.s.markComplete()
	if !srv.cfg.Seed {
		return srv.shutdown(Stopped, nil)
	}
	if ph != Seeding {
		srv.publish(Seeding)
		return statem.Next(Seeding, srv, actions...)
	}
	return srv.keepPhase(actions...)
}

func (srv *server) peerOf(id core.PeerID) *Peer {
	s := id.Slot()
	if s <= 0 || s >= len(srv.bySlot) {
		return nil
	}
	p := srv.bySlot[s]
	if p == nil || srv.peers[p] != id {
		return nil
	}
	return p
}

// onBlock files a received block under its piece if the core accepts it.
func (srv *server) onBlock(b *block) {
	id, ok := srv.peers[b.p]
	if !ok {
		putBlock(b)
		return
	}
	switch srv.core.BlockReceived(id, b.index, b.begin, b.n) {
	case core.BlockAccepted:
		j := srv.partial[b.index]
		if j == nil {
			nb := int((srv.core.PieceLen(b.index) + peerwire.BlockSize - 1) / peerwire.BlockSize)
			j = srv.hasher.newJob(nb)
			srv.partial[b.index] = j
		}
		k := int(b.begin / peerwire.BlockSize)
		if k >= len(j.blocks) || j.blocks[k] != nil || b.begin%peerwire.BlockSize != 0 {
			// The core accepts only blocks it requested, at block offsets.
			putBlock(b)
			return
		}
		b.p = nil
		j.blocks[k] = b
	default:
		putBlock(b)
	}
}

// full reports whether every block of the job has arrived.
func (j *hashJob) full() bool {
	for _, b := range j.blocks {
		if b == nil {
			return false
		}
	}
	return true
}

// release returns the job's blocks to the pool.
func (j *hashJob) release() {
	for i, b := range j.blocks {
		if b != nil {
			putBlock(b)
			j.blocks[i] = nil
		}
	}
}

// onPeerUp admits (or refuses) a peer whose handshake completed.
func (srv *server) onPeerUp(p *Peer, ph Phase) {
	var err error
	switch {
	case p.remote.PeerID == srv.f.peerID:
		err = ErrSelf
		srv.book.markDead(p.addr)
	case srv.byPeerID[p.remote.PeerID] != nil:
		old := srv.byPeerID[p.remote.PeerID]
		if !srv.keepNewer(old, p) {
			err = ErrDuplicate
			break
		}
		old.close(ErrDuplicate)
		delete(srv.byPeerID, p.remote.PeerID)
	case srv.book.banned(p.addr), srv.isBannedID(p.remote.PeerID):
		err = ErrBanned
	case !p.outgoing && srv.incoming+len(srv.procs) >= srv.cfg.MaxPeers:
		err = ErrTooManyPeers
	}
	if err != nil {
		p.close(err)
		return
	}
	id := srv.core.PeerConnected(core.Caps{Fast: p.fast})
	if id == core.NoPeer {
		p.close(ErrTooManyPeers)
		return
	}
	srv.peers[p] = id
	srv.byPeerID[p.remote.PeerID] = p
	for len(srv.bySlot) <= id.Slot() {
		srv.bySlot = append(srv.bySlot, nil)
	}
	srv.bySlot[id.Slot()] = p
	if !p.outgoing {
		srv.incoming++
	}
	// Our availability first, then the extension handshake.
	have := srv.f.have.Count()
	switch {
	case p.fast && have == srv.f.numPieces:
		p.sendSimple(peerwire.MsgHaveAll)
	case p.fast && have == 0:
		p.sendSimple(peerwire.MsgHaveNone)
	case have > 0:
		bits := srv.core.AppendBitfield(nil)
		p.queue(func(b []byte) []byte { return peerwire.AppendBitfield(b, bits) })
	}
	srv.grantAllowedFast(p, id)
	if p.ext {
		payload := srv.extHandshake(p)
		p.queue(func(b []byte) []byte { return peerwire.AppendExtended(b, 0, payload) })
	}
	srv.log.Debug("peer connected", "peer", p.addr, "outgoing", p.outgoing, "fast", p.fast, "ext", p.ext)
}

// onPeerGone forgets a disconnected peer.
func (srv *server) onPeerGone(p *Peer) {
	id, ok := srv.peers[p]
	if !ok {
		return
	}
	if !p.outgoing {
		srv.incoming--
	}
	srv.core.PeerGone(id)
	delete(srv.peers, p)
	delete(srv.clients, p)
	if srv.byPeerID[p.remote.PeerID] == p {
		delete(srv.byPeerID, p.remote.PeerID)
	}
	srv.bySlot[id.Slot()] = nil
	srv.log.Debug("peer gone", "peer", p.addr, "err", p.Err())
	srv.dialMore()
}

// onPeerMsg steps the core with a peer's message.
func (srv *server) onPeerMsg(p *Peer, m peerwire.Message) {
	id, ok := srv.peers[p]
	if !ok {
		return
	}
	c := srv.core
	switch m.ID {
	case peerwire.MsgChoke:
		c.PeerChoke(id)
	case peerwire.MsgUnchoke:
		c.PeerUnchoke(id)
	case peerwire.MsgInterested:
		c.PeerInterested(id)
	case peerwire.MsgNotInterested:
		c.PeerNotInterested(id)
	case peerwire.MsgHave:
		c.PeerHave(id, m.Index)
	case peerwire.MsgBitfield:
		c.PeerBitfield(id, m.Bitfield)
	case peerwire.MsgHaveAll:
		c.PeerHaveAll(id)
	case peerwire.MsgHaveNone:
		c.PeerHaveNone(id)
	case peerwire.MsgReject:
		c.PeerReject(id, m.Index, m.Begin, m.Length)
	case peerwire.MsgAllowedFast:
		c.PeerAllowedFast(id, m.Index)
	case peerwire.MsgSuggest:
		c.PeerSuggest(id, m.Index)
	case peerwire.MsgExtended:
		if m.ExtID == 0 {
			srv.onExtHandshake(p, id, m.ExtPayload)
		}
	}
}

// tick runs once a second: the core's clock, rates, keep-alives, idle
// peers, redials and the published stats.
func (srv *server) tick(ph Phase) {
	now := time.Now()
	srv.core.Tick(now.Sub(srv.start))
	for p, id := range srv.peers {
		u := p.uploaded.Load()
		if d := u - p.lastUpReported; d > 0 {
			srv.core.Uploaded(id, int(d))
			p.lastUpReported = u
		}
		if p.idle(now) {
			p.close(ErrIdle)
			continue
		}
		p.sendKeepAlive(now)
	}
	down, up := srv.s.transferred()
	srv.rates.update(now, down, up)
	srv.dialMore()
	srv.publish(ph)
}

// shutdown ends the session: the final phase is published and the machine
// stops (Terminate closes everything).
func (srv *server) shutdown(final Phase, err error, a ...statem.Action) statem.Result[Phase, *server] {
	srv.failed = err
	srv.finalPhase = final
	if err != nil {
		srv.log.Error("session failed", "err", err)
	}
	srv.publish(final)
	// A real transition into the final phase, then the stop: tracers and
	// state-enter observers see Stopped or Failed.
	a = append(a, statem.NextEvent(statem.Internal, terminate{err}))
	return statem.Next(final, srv, a...)
}

// terminate is the internal event that ends the machine from a final phase.
type terminate struct{ err error }

// stopReq is the call Session.Stop makes.
type stopReq struct{}

// Terminate closes peers, the listener registration, the hasher (waiting
// for pieces being written), tells the trackers "stopped" and syncs and
// closes storage.
func (srv *server) Terminate(reason error, ph Phase, _ *server) {
	srv.checkStop()
	<-srv.checkDone // storage must not close under the check
	srv.listener.unregister(srv.f.infoHash, srv)
	srv.closeListener()
	srv.stopProcs()
	srv.s.closeAll(ErrStopped)
	srv.hasher.close()
	for _, j := range srv.partial {
		j.release()
	}
	if srv.announcer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		srv.announcer.Stop(ctx)
		cancel()
	}
	// A stop before completion (Ctrl-C) syncs what was written. A download
	// that completed and ends by itself does not: every piece is verified
	// and written to the OS, which writes it back as it does for every
	// other client, and an fsync of the whole payload would add up to a
	// second per GiB to the download.
	if !(srv.wasComplete && srv.finalPhase == Stopped && !srv.cfg.Seed) {
		t0 := time.Now()
		if err := srv.store.Sync(); err != nil {
			srv.log.Warn("syncing storage", "err", err)
		}
		srv.log.Debug("storage synced", "took", time.Since(t0))
	}
	srv.store.Close()
	final := srv.finalPhase
	if final == 0 {
		final = Stopped
		if reason != nil && !statem.IsQuiet(reason) {
			final = Failed
		}
	}
	srv.publish(final)
	select {
	case <-srv.s.checked:
	default:
		if srv.s.checkErr == nil {
			srv.s.checkErr = ErrStopped
		}
		close(srv.s.checked)
	}
}

func (srv *server) closeListener() {
	if srv.ownListener {
		srv.listener.Close()
	}
}

func (srv *server) isBannedID(id [20]byte) bool {
	_, ok := srv.bannedIDs[id]
	return ok
}

// stopProcs stops every outgoing connection process, in parallel.
func (srv *server) stopProcs() {
	var wg sync.WaitGroup
	for _, c := range srv.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c.Stop(ctx, nil)
		}()
	}
	wg.Wait()
}

// keep continues in the same phase.
func (srv *server) keepPhase(a ...statem.Action) statem.Result[Phase, *server] {
	return statem.Keep[Phase](srv, a...)
}

// keepNewer decides between two connections to the same peer, the same way
// on both ends so that a simultaneous open keeps exactly one: the one
// initiated by the side with the lower peer id. Two connections started by
// the same side keep the older one.
func (srv *server) keepNewer(old, p *Peer) bool {
	if old.outgoing == p.outgoing {
		return false
	}
	initiator := func(c *Peer) []byte {
		if c.outgoing {
			return srv.f.peerID[:]
		}
		return c.remote.PeerID[:]
	}
	return bytes.Compare(initiator(p), initiator(old)) < 0
}

// allowedFastCount is the size of the BEP 6 allowed fast set we grant.
const allowedFastCount = 10

// grantAllowedFast sends a fast peer the pieces of its canonical allowed
// fast set that we have: it may fetch them even while we choke it, which
// gets a newcomer started.
func (srv *server) grantAllowedFast(p *Peer, id core.PeerID) {
	if !p.fast {
		return
	}
	set := peerwire.AllowedFastSet(p.addr.Addr(), srv.f.infoHash, srv.f.numPieces, allowedFastCount)
	var out []uint32
	for _, i := range set {
		if srv.f.have.Has(int(i)) {
			out = append(out, i)
			srv.core.GrantAllowedFast(id, i)
		}
	}
	if len(out) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.allowed = append(p.allowed, out...)
	for _, i := range out {
		p.out = peerwire.AppendAllowedFast(p.out, i)
	}
	p.signal()
}

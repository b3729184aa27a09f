package session

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/connection"
	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/metadata"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/pex"
	"github.com/effusion-bt/effusion/statem"
	"github.com/effusion-bt/effusion/storage"
	"github.com/effusion-bt/effusion/tracker"
	"github.com/effusion-bt/effusion/transport"
)

// server is the session machine's handler and data: everything about the
// torrent that only the session goroutine touches.
type server struct {
	s   *Session
	m   *statem.Machine[Phase, *server] // set right after Start
	cfg Config
	env *Env
	log *slog.Logger

	firstPiece bool // a downloaded piece verified (logged once)

	f      *torrentFacts // identity, limits and (once known) geometry, shared with peer goroutines
	g      *geometry     // f's geometry (nil in the Metadata phase)
	mi     *metainfo.MetaInfo
	store  fileStore     // the torrent's files
	core   *core.Torrent // the pure picker/choker/bookkeeping, and the piece assembly
	hasher *hasher       // verifies and writes assembled pieces
	start  time.Time     // origin of the core's clock

	listener    *transport.Listener // where incoming peers arrive
	ownListener bool                // we opened it (and close it on stop)
	announcer   *tracker.Announcer

	peers     map[*Peer]core.PeerID                          // connected peers and their core handles
	bySlot    []*Peer                                        // core slot -> peer
	byPeerID  map[[20]byte]*Peer                             // for duplicate detection
	clients   map[*Peer]string                               // "v" from the extension handshake
	hashing   int64                                          // bytes of the pieces with the hasher
	taken     []any                                          // scratch for core.TakePiece
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
	// justCompleted: a batch of the core's completed the download and
	// step has yet to act on it.
	justCompleted bool
	rates         rateMeter
	ticking       bool // the tick timer is set (only while there are peers)
	checkBegun    bool // beginCheck ran (checkDone will close)

	fetch     *metadata.Fetcher         // the Metadata phase's (nil after it)
	metaPeers map[metadata.PeerID]*Peer // the fetcher's peers
	mserver   *metadata.Server          // serves our info dictionary (BEP 9)
	pexSwarm  *pex.Swarm                // nil: no PEX (private torrent, NoPEX)
	pexMsg    peerwire.Pex              // scratch for outgoing PEX
	pexTaken  []peerwire.PexPeer        // scratch for incoming PEX
	selfIPs   map[netip.Addr]struct{}   // our addresses, as peers tell us (yourip)
	// pendingReqQ holds the reqq of peers whose extension handshake came
	// before the core existed (Metadata phase).
	pendingReqQ map[*Peer]int
	checkedN    int            // pieces the start-up check hashed
	prios       []FilePriority // the files' priorities (nil: all normal)
	web         webSeeds       // the web seeds (BEP 19), virtual peers of the core
	stream      streamState    // streaming readers' windows (stream.go)
}

func (srv *server) handler() statem.Handler[Phase, *server] { return srv }

// Init sets up what does not need the metadata (the listener, the address
// book); with the torrent's info it opens storage and the core and the
// check of existing data starts right after (beginCheck); without (a
// magnet) the session starts in Metadata and fetches it from peers.
func (srv *server) Init(ctx context.Context) (Phase, *server, []statem.Action, error) {
	c := srv.cfg
	srv.start = time.Now()
	srv.f = &torrentFacts{
		infoHash: srv.s.infoHash,
		peerID:   c.PeerID,
		env:      srv.env,
		log:      srv.log,
	}
	private := c.Torrent != nil && c.Torrent.Info.Private
	srv.f.metadataOn.Store(!private)
	srv.f.pexOn.Store(!private && !c.NoPEX)
	srv.f.dhtOn.Store(!private && srv.env.dhtPort != 0)
	srv.f.down.set(c.DownloadRate)
	srv.f.up.set(c.UploadRate)
	srv.peers = make(map[*Peer]core.PeerID)
	srv.byPeerID = make(map[[20]byte]*Peer)
	srv.clients = make(map[*Peer]string)
	srv.book = newAddrBook()
	srv.procs = make(map[netip.AddrPort]*connection.Conn[*peerProc])
	srv.bannedIDs = make(map[[20]byte]struct{})
	srv.checkDone = make(chan struct{})
	srv.checkCtx, srv.checkStop = context.WithCancel(context.Background())
	if srv.f.pexOn.Load() {
		srv.newPex()
	}
	srv.listener = srv.env.Listener()
	if srv.listener == nil {
		l, err := transport.Listen(ctx, transport.ListenConfig{Addr: c.ListenAddr, Logger: srv.log})
		if err != nil {
			return 0, nil, nil, err
		}
		srv.listener, srv.ownListener = l, true
	}
	if c.Torrent == nil {
		if err := srv.beginMetadata(); err != nil {
			srv.closeListener()
			return 0, nil, nil, err
		}
		srv.publish(Metadata)
		return Metadata, srv, nil, nil
	}
	if err := srv.setInfo(c.Torrent, c.FilePriorities); err != nil {
		srv.closeListener()
		return 0, nil, nil, err
	}
	srv.publish(Checking)
	return Checking, srv, nil, nil
}

func (srv *server) closeListener() {
	if srv.ownListener {
		srv.listener.Close()
	}
}

// setInfo opens the torrent's storage and core once its info is known, and
// publishes its geometry to the peer goroutines.
func (srv *server) setInfo(mi *metainfo.MetaInfo, prios []FilePriority) error {
	c := srv.cfg
	info := &mi.Info
	if prios == nil && c.Select != nil {
		prios = c.Select(info)
	}
	if prios != nil && len(prios) != len(info.Files) {
		return fmt.Errorf("session: %d file priorities for %d files", len(prios), len(info.Files))
	}
	st, err := openStore(c.Dir, info, srv.env.storage)
	if err != nil {
		return err
	}
	n := info.NumPieces()
	srv.env.blocks.grow(piecesInFlight * ((info.PieceLength + peerwire.BlockSize - 1) / peerwire.BlockSize))
	tc, err := core.New(core.Config{
		NumPieces:   n,
		PieceLength: info.PieceLength,
		TotalLength: info.TotalLength(),
		Seed:        uint64(time.Now().UnixNano()),
	})
	if err != nil {
		st.Close()
		return err
	}
	srv.mi = mi
	srv.s.mi.Store(mi)
	srv.store = st
	srv.core = tc
	g := &geometry{
		numPieces: n,
		pieceLen:  info.PieceLength,
		total:     info.TotalLength(),
		have:      newAtomicBits(n),
		store:     st,
	}
	for _, fi := range info.Files {
		g.files = append(g.files, fileFacts{length: fi.Length, padding: fi.Padding || len(fi.SymlinkPath) > 0})
	}
	g.left.Store(info.TotalLength())
	srv.g = g
	if prios != nil {
		if err := srv.applyPriorities(prios); err != nil {
			st.Close()
			return err
		}
	}
	srv.hasher = srv.env.hashers.handle(st, func(r hashResult) { srv.s.post(r) })
	srv.mserver = metadata.NewServer(mi.InfoBytes, metadata.ServerConfig{})
	srv.f.geo.Store(g) // peers see the geometry from now on
	return nil
}

// beginCheck hashes the existing data in the background. Start calls it
// once the machine's handle is known (the result is cast to it).
func (srv *server) beginCheck() {
	st, s, done, ctx, r := srv.store, srv.s, srv.checkDone, srv.checkCtx, srv.cfg.Resume
	srv.checkBegun = true
	go func() {
		defer close(done)
		have, n, err := st.check(ctx, r)
		s.post(evChecked{have: have, checked: n, err: err})
	}()
}

// timer names
type tickTimer struct{}

const tickInterval = time.Second

// HandleEvent dispatches one event; the phase decides what is allowed.
func (srv *server) HandleEvent(ctx context.Context, ev statem.Event, ph Phase, _ *server) statem.Result[Phase, *server] {
	switch ev.Type {
	case statem.GenericTimeout:
		if t, ok := ev.Name.(seedRetry); ok {
			return srv.retrySeed(t.s, ph)
		}
		if _, ok := ev.Name.(streamTick); ok {
			return srv.onStreamTick(ph)
		}
		srv.ticking = false
		if ph != Checking && ph != Stopped && ph != Failed {
			srv.tick(ph)
		}
		return srv.step(ph)
	case statem.Internal:
		switch t := ev.Content.(type) {
		case terminate:
			return statem.Stop[Phase](t.err, srv)
		case toDownloading:
			if ph == Seeding {
				return statem.Next(Downloading, srv)
			}
			return srv.keepPhase()
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
	e, ok := ev.Content.(event)
	if !ok {
		// Only Session.post casts, and it takes an event: this is a bug.
		return srv.shutdown(Failed, fmt.Errorf("session: %v is not a session event", ev))
	}
	if _, fromPeer := e.(peerEvent); fromPeer && ph == Checking {
		return srv.keepPhase(statem.Postpone())
	}
	return e.apply(srv, ph)
}

// checked ends the start-up check: the core learns what we have, and the
// session starts talking to the swarm.
func (srv *server) checked(e evChecked) statem.Result[Phase, *server] {
	if e.err != nil {
		srv.s.checkErr = e.err
		close(srv.s.checked)
		return srv.shutdown(Failed, fmt.Errorf("session: checking data: %w", e.err))
	}
	srv.checkedN = e.checked
	for _, i := range e.have {
		srv.core.SetHave(uint32(i))
		srv.g.have.Set(i)
	}
	srv.s.rd.piecesVerified()
	srv.core.Tick(time.Since(srv.start))
	srv.g.left.Store(srv.core.Stats().Left)
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
	srv.log.Info("data checked", "have", len(e.have), "pieces", srv.g.numPieces)
	if ph == Seeding && !srv.cfg.Seed {
		return srv.shutdown(Stopped, nil)
	}
	srv.attachPeers() // those that came in the Metadata phase
	if srv.announcer == nil {
		srv.startAnnouncer()
	} else {
		srv.announcer.Reannounce() // now with what we have
	}
	if srv.cfg.Magnet == nil {
		for _, a := range srv.cfg.Peers {
			srv.book.add(a)
		}
	}
	srv.dialMore()
	if ph == Downloading {
		srv.startWebSeeds()
	}
	srv.perform()
	srv.justCompleted = false // completion at the check is the phase chosen above
	return statem.Next(ph, srv, srv.armTick(ph, nil)...)
}

// completed: every wanted piece is verified and written.
func (srv *server) completed(ph Phase, actions ...statem.Action) statem.Result[Phase, *server] {
	if srv.wasComplete {
		return srv.keepPhase(actions...) // complete since the check: nothing was downloaded
	}
	srv.wasComplete = true
	srv.stopWebSeeds()
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
		return statem.Next(Seeding, srv, actions...)
	}
	return srv.keepPhase(actions...)
}

// tick runs once a second: the core's clock (or the metadata fetcher's),
// rates, keep-alives, idle peers, PEX, redials and the published stats.
func (srv *server) tick(ph Phase) {
	now := time.Now()
	if srv.core != nil {
		srv.core.Tick(now.Sub(srv.start))
	}
	if srv.fetch != nil {
		srv.fetch.Tick(now.Sub(srv.start))
	}
	for p, id := range srv.peers {
		u := p.uploaded.Load()
		if d := u - p.lastUpReported; d > 0 && id != core.NoPeer {
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
	if len(srv.peers) == 0 && !srv.web.active() {
		srv.rates.down, srv.rates.up = 0, 0 // the last tick until a peer comes
	}
	srv.webSeedsTick(now)
	srv.pexTick()
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
	if srv.checkBegun {
		<-srv.checkDone // storage must not close under the check
	}
	srv.listener.Unregister(srv.f.infoHash, incoming{srv})
	if srv.ownListener {
		srv.listener.Close()
	}
	srv.stopProcs()
	srv.s.closeAll(ErrStopped)
	// Before the blocks' budget is settled below.
	srv.closeWebSeeds()
	srv.env.peers.Add(-int64(len(srv.peers))) // their evPeerGone will not be handled
	if srv.hasher != nil {
		srv.hasher.close()
	}
	if srv.core != nil {
		for _, d := range srv.core.TakeAll(srv.taken[:0]) {
			srv.env.blocks.put(d.(*block))
		}
	}
	srv.env.blocks.forget(&srv.f.held) // blocks left in the mailbox
	if srv.announcer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		srv.announcer.Stop(ctx)
		cancel()
	}
	srv.closeStorage()
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
	if srv.s.ownEnv {
		srv.env.Close()
	}
}

// closeStorage syncs (unless the download completed: see below), records
// the final checkpoint and closes the torrent's files, if it has any yet.
func (srv *server) closeStorage() {
	if srv.store.Storage == nil {
		return // the metadata never came
	}
	// A stop before completion (Ctrl-C) syncs what was written. A download
	// that completed and ends by itself does not: every piece is verified
	// and written to the OS, which writes it back as it does for every
	// other client, and an fsync of the whole payload would add up to a
	// second per GiB to the download.
	if !(srv.wasComplete && (srv.cfg.NoSyncWhenComplete || srv.finalPhase == Stopped && !srv.cfg.Seed)) {
		t0 := time.Now()
		have := srv.g.have.snapshot()
		err := srv.store.Sync()
		if err != nil {
			srv.log.Warn("syncing storage", "err", err)
		}
		srv.log.Debug("storage synced", "took", time.Since(t0))
		var files []storage.FileStat
		if err == nil {
			files, err = srv.store.Stat()
		}
		srv.s.final.put(Checkpoint{Have: have, Files: files}, err)
	}
	srv.s.rd.closeStore()
	srv.store.Close()
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

// keepPhase continues in the same phase.
func (srv *server) keepPhase(a ...statem.Action) statem.Result[Phase, *server] {
	return statem.Keep[Phase](srv, a...)
}

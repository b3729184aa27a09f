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

	f      *torrentFacts // geometry and have-set shared with peer goroutines
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
	ticking       bool           // the tick timer is set (only while there are peers)
	checkedN      int            // pieces the start-up check hashed
	prios         []FilePriority // the files' priorities (nil: all normal)
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
		env:       srv.env,
		log:       srv.log,
	}
	srv.f.dht = srv.dhtFor()
	for _, fi := range info.Files {
		srv.f.files = append(srv.f.files, fileFacts{length: fi.Length, padding: fi.Padding || len(fi.SymlinkPath) > 0})
	}
	srv.f.left.Store(info.TotalLength())
	srv.f.down.set(c.DownloadRate)
	srv.f.up.set(c.UploadRate)
	if c.FilePriorities != nil {
		if len(c.FilePriorities) != len(info.Files) {
			st.Close()
			return 0, nil, nil, fmt.Errorf("session: %d file priorities for %d files", len(c.FilePriorities), len(info.Files))
		}
		if err := srv.applyPriorities(c.FilePriorities); err != nil {
			st.Close()
			return 0, nil, nil, err
		}
	}
	srv.peers = make(map[*Peer]core.PeerID)
	srv.byPeerID = make(map[[20]byte]*Peer)
	srv.clients = make(map[*Peer]string)
	srv.book = newAddrBook()
	srv.procs = make(map[netip.AddrPort]*connection.Conn[*peerProc])
	srv.bannedIDs = make(map[[20]byte]struct{})
	srv.listener = srv.env.Listener()
	if srv.listener == nil {
		l, err := transport.Listen(ctx, transport.ListenConfig{Addr: c.ListenAddr, Logger: srv.log})
		if err != nil {
			st.Close()
			return 0, nil, nil, err
		}
		srv.listener, srv.ownListener = l, true
	}
	srv.hasher = srv.env.hashers.handle(st, func(r hashResult) { srv.s.post(r) })
	srv.checkCtx, srv.checkStop = context.WithCancel(context.Background())
	srv.checkDone = make(chan struct{})
	srv.publish(Checking)
	return Checking, srv, nil, nil
}

// beginCheck hashes the existing data in the background. Start calls it
// once the machine's handle is known (the result is cast to it).
func (srv *server) beginCheck() {
	st, s, done, ctx, r := srv.store, srv.s, srv.checkDone, srv.checkCtx, srv.cfg.Resume
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
		srv.f.have.Set(i)
	}
	srv.core.Tick(time.Since(srv.start))
	srv.f.left.Store(srv.core.Stats().Left)
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
		return statem.Next(Seeding, srv, actions...)
	}
	return srv.keepPhase(actions...)
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
	if len(srv.peers) == 0 {
		srv.rates.down, srv.rates.up = 0, 0 // the last tick until a peer comes
	}
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
	srv.listener.Unregister(srv.f.infoHash, incoming{srv})
	if srv.ownListener {
		srv.listener.Close()
	}
	srv.stopProcs()
	srv.s.closeAll(ErrStopped)
	srv.env.peers.Add(-int64(len(srv.peers))) // their evPeerGone will not be handled
	srv.hasher.close()
	for _, d := range srv.core.TakeAll(srv.taken[:0]) {
		srv.env.blocks.put(d.(*block))
	}
	srv.env.blocks.forget(&srv.f.held) // blocks left in the mailbox
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
	if !(srv.wasComplete && (srv.cfg.NoSyncWhenComplete || srv.finalPhase == Stopped && !srv.cfg.Seed)) {
		t0 := time.Now()
		have := srv.f.have.snapshot()
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
	if srv.s.ownEnv {
		srv.env.Close()
	}
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

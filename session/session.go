package session

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/bitset"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/statem"
)

// Phase is the session's state: its machine's state, reported in Stats.
type Phase uint8

// Phases of a session.
const (
	// Checking: hashing the data already on disk.
	Checking Phase = iota + 1
	// Downloading: fetching the pieces we lack (and uploading what we have).
	Downloading
	// Seeding: every piece is verified; only uploading.
	Seeding
	// Stopped: Stop was called, or the download completed without Seed.
	Stopped
	// Failed: a fatal error (storage) ended the session; see Await.
	Failed
	// Metadata: a magnet's info dictionary is being fetched from peers
	// (BEP 9); Checking follows.
	Metadata
)

var phaseNames = [...]string{"", "checking", "downloading", "seeding", "stopped", "failed", "metadata"}

// String returns the phase's name.
func (p Phase) String() string {
	if int(p) < len(phaseNames) && p != 0 {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// Session is one torrent being downloaded and seeded: a statem machine (the
// session server) that owns the torrent's state, steps the pure core and
// performs its decisions, connected to many peers. All methods are safe for
// concurrent use.
type Session struct {
	m        *statem.Machine[Phase, *server]
	infoHash [20]byte
	addr     netip.AddrPort
	ownEnv   bool // Config.Env was nil: the session's own, closed at its end

	completeMu sync.Mutex
	complete   chan struct{} // closed once every wanted piece is verified (replaced if one is wanted again)
	checked    chan struct{} // closed when the start-up check is over
	checkErr   error         // set before checked is closed

	connMu   sync.Mutex
	conns    map[*Peer]struct{} // every peer whose goroutines run
	closing  bool               // no new peers: the session is ending
	goneDown int64              // payload bytes of peers whose goroutines ended
	goneUp   int64
	ctx      context.Context // cancelled when the session ends
	cancel   context.CancelFunc

	web       webTally              // the web seeds' byte counts, for Stats
	stats     atomic.Pointer[Stats] // latest snapshot, published by the server
	facts     *torrentFacts         // for live progress in Stats
	mi        atomic.Pointer[metainfo.MetaInfo]
	infoReady chan struct{} // closed once the info dictionary is known
	final     finalState    // the checkpoint taken as the session ended

	ctr sessionCounters // pieces verified and failed, bans (Counters)
	rd  streamShared    // streaming readers: wake-ups, storage guard (stream.go)
}

// MetaInfo returns the torrent's metainfo, nil while a magnet's metadata
// is being fetched. Do not modify it.
func (s *Session) MetaInfo() *metainfo.MetaInfo { return s.mi.Load() }

// InfoReady is closed once the info dictionary is known (at once for a
// session started with a .torrent).
func (s *Session) InfoReady() <-chan struct{} { return s.infoReady }

// Start checks the data already under cfg.Dir and starts the session: it
// listens (or joins its environment's listener), announces to the
// torrent's trackers and dials cfg.Peers once the check is over. ctx
// bounds only the start; the session runs until Stop, completion without
// Seed, or a fatal error.
func Start(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.Torrent == nil && cfg.Magnet == nil {
		return nil, errors.New("session: Config.Torrent or Config.Magnet is required")
	}
	if cfg.Torrent == nil && !cfg.Magnet.HasV1 {
		return nil, metainfo.ErrV2Only
	}
	if cfg.Dir == "" {
		return nil, errors.New("session: Config.Dir is required")
	}
	c := cfg.withDefaults()
	s := &Session{
		infoHash:  c.infoHash(),
		infoReady: make(chan struct{}),
		complete:  make(chan struct{}),
		checked:   make(chan struct{}),
		conns:     make(map[*Peer]struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	env := c.Env
	if env == nil {
		env, s.ownEnv = NewEnv(EnvConfig{}), true
	}
	srv := &server{s: s, cfg: c, env: env, log: c.Logger.With("torrent", fmt.Sprintf("%x", s.infoHash[:6]))}
	m, err := statem.Start[Phase, *server](ctx, srv.handler(), statem.WithLogger(c.Logger), statem.WithLog(machineLog))
	if err != nil {
		s.cancel()
		if s.ownEnv {
			env.Close()
		}
		return nil, err
	}
	s.m = m
	s.addr = srv.listener.Addr()
	s.facts = srv.f
	srv.m = m
	if c.Torrent != nil {
		close(s.infoReady)
		srv.beginCheck() // after m is known: the check casts its result to it
		if r := c.Resume; r != nil && r.Known.Count() == c.Torrent.Info.NumPieces() {
			// Nothing to read: the phase is known in microseconds, and a
			// resumed torrent is never seen checking (Stats, RPC).
			select {
			case <-s.checked:
			case <-m.Done():
			}
		}
	} else {
		s.post(evStartMetadata{})
	}
	// Incoming peers only once the machine can be reached.
	if err := srv.listener.Register(srv.f.infoHash, incoming{srv}); err != nil {
		m.Stop(context.Background(), err)
		return nil, err
	}
	return s, nil
}

// Addr returns the listening address for incoming peers.
func (s *Session) Addr() netip.AddrPort { return s.addr }

// InfoHash returns the torrent's info-hash.
func (s *Session) InfoHash() [20]byte { return s.infoHash }

// Have returns the verified pieces (not necessarily synced yet: see
// Checkpoint for what is durable).
func (s *Session) Have() bitset.Set {
	if g := s.facts.g(); g != nil {
		return g.have.snapshot()
	}
	return bitset.Set{}
}

// AddPeers hands the session peer addresses to dial (as a tracker would);
// known, banned and our own addresses are skipped. It never blocks.
func (s *Session) AddPeers(addrs ...netip.AddrPort) {
	if len(addrs) == 0 {
		return
	}
	s.post(evAddPeers{append([]netip.AddrPort(nil), addrs...)})
}

// Checked waits until the start-up check of existing data is over and
// returns how many pieces it verified and the torrent's piece count.
func (s *Session) Checked(ctx context.Context) (have, total int, err error) {
	select {
	case <-s.checked:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	if s.checkErr != nil {
		return 0, 0, s.checkErr
	}
	st := s.Stats()
	return st.PiecesHave, st.PiecesTotal, nil
}

// Await returns nil once every wanted piece is verified and written, or
// the session's error if it failed or was stopped first (ErrStopped), or
// ctx.Err().
func (s *Session) Await(ctx context.Context) error {
	s.completeMu.Lock()
	complete := s.complete
	s.completeMu.Unlock()
	select {
	case <-complete:
		return nil
	case <-s.m.Done():
		select {
		case <-complete:
			return nil
		default:
		}
		if err := s.m.Err(); err != nil && !statem.IsQuiet(err) {
			return err
		}
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the session has ended (stopped or failed).
func (s *Session) Done() <-chan struct{} { return s.m.Done() }

// Stop announces "stopped" to the trackers, closes every peer, waits for
// pending verified pieces to be written and syncs storage (a session that
// completed without Config.Seed has already stopped by itself, without the
// sync: its pieces are all written). It returns the
// session's failure, if it failed, or ctx.Err() if ctx ended first. Calling
// Stop on a stopped session returns nil.
func (s *Session) Stop(ctx context.Context) error {
	// Through the machine, so that Stopped is a real transition; a machine
	// that is not answering (or already gone) is stopped directly.
	if _, err := s.m.Call(ctx, stopReq{}); err != nil && !errors.Is(err, statem.ErrStopped) {
		err = s.m.Stop(ctx, nil)
		if errors.Is(err, statem.ErrStopped) {
			err = nil // it was stopping by itself (completion, failure)
		}
		if err != nil {
			return err
		}
	}
	// Wait for the end of Terminate either way: the caller may exit next.
	select {
	case <-s.m.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	if e := s.m.Err(); e != nil && !statem.IsQuiet(e) {
		return e
	}
	return nil
}

// post casts an event to the session's mailbox; false once the session
// has ended (a block is then recycled). It never blocks.
func (s *Session) post(e event) bool {
	if s.m.Cast(e) == nil {
		return true
	}
	if b, ok := e.(*block); ok {
		s.facts.env.blocks.put(b)
	}
	return false
}

func (s *Session) markComplete() {
	s.completeMu.Lock()
	defer s.completeMu.Unlock()
	select {
	case <-s.complete:
	default:
		close(s.complete)
	}
}

// markIncomplete re-arms Await after a file was wanted again.
func (s *Session) markIncomplete() {
	s.completeMu.Lock()
	defer s.completeMu.Unlock()
	select {
	case <-s.complete:
		s.complete = make(chan struct{})
	default:
	}
}

// track registers a peer whose goroutines are about to start; false when
// the session is ending (the caller then closes the connection).
func (s *Session) track(p *Peer) bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.closing {
		return false
	}
	s.conns[p] = struct{}{}
	go func() {
		<-p.Done()
		s.connMu.Lock()
		delete(s.conns, p)
		s.goneDown += p.downloaded.Load()
		s.goneUp += p.uploaded.Load()
		s.connMu.Unlock()
	}()
	return true
}

// closeAll closes every peer, refuses new ones, and waits (bounded) for
// their goroutines to exit.
func (s *Session) closeAll(reason error) {
	s.cancel()
	s.connMu.Lock()
	s.closing = true
	ps := make([]*Peer, 0, len(s.conns))
	for p := range s.conns {
		ps = append(ps, p)
	}
	s.connMu.Unlock()
	for _, p := range ps {
		p.close(reason)
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	for _, p := range ps {
		select {
		case <-p.Done():
		case <-t.C:
			return
		}
	}
}

// transferred returns the payload bytes received and sent so far, live.
func (s *Session) transferred() (down, up int64) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	down, up = s.goneDown, s.goneUp
	for p := range s.conns {
		down += p.downloaded.Load()
		up += p.uploaded.Load()
	}
	return down + s.web.bytes(), up
}

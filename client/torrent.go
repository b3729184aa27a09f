package client

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/bitset"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/session"
	bolt "go.etcd.io/bbolt"
)

// Priority is what the user wants of one file.
type Priority = session.FilePriority

// File priorities (Torrent.SetFilePriority, Spec.Priorities).
const (
	// Normal: download the file.
	Normal = session.FileNormal
	// High: download the file before the normal ones.
	High = session.FileHigh
	// Skip: do not download the file, and do not create it (bytes of it
	// that pieces shared with wanted files hold go to a hidden part file).
	Skip = session.FileSkip
)

// State is a torrent's state in the client.
type State uint8

// States of a torrent.
const (
	// Checking: its data on disk is being verified (only what the resume
	// store could not vouch for).
	Checking State = iota + 1
	// Downloading: fetching the wanted pieces it lacks.
	Downloading
	// Seeding: every wanted piece is verified; uploading.
	Seeding
	// Paused: stopped by the user (Pause); Resume starts it again.
	Paused
	// Failed: stopped by an error (Stats.Err); Resume retries.
	Failed
	// Metadata: a magnet's info dictionary is being fetched from peers.
	Metadata
)

var stateNames = [...]string{"", "checking", "downloading", "seeding", "paused", "failed", "metadata"}

// String returns the state's name.
func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Torrent is one torrent of a Client. Its methods are safe for concurrent
// use; after Client.Remove or Shutdown they report ErrClosed (or the last
// state, for Stats and Files).
type Torrent struct {
	c        *Client
	infoHash [20]byte
	magnet   *metainfo.Magnet // how it was added, when from a magnet
	peers    []netip.AddrPort // given at Add, dialled at every start
	selectFn func(*metainfo.Info) []Priority
	metaOnly bool
	infoOK   chan struct{} // closed once the metainfo is known

	// op serializes what starts and stops the session (Pause, Resume,
	// Remove, Shutdown), which may take seconds; mu guards the fields
	// below and is held only briefly, so that Stats never waits.
	op sync.Mutex

	mu        sync.Mutex
	mi        *metainfo.MetaInfo // nil until a magnet's metadata arrives
	meta      meta
	sess      *session.Session // nil while paused, failed or closed
	resume    *session.Resume  // what the next start may take without reading
	lastFiles []fileStat       // the file stats of resume, when from a checkpoint
	lastErr   error            // why the last session failed
	closed    bool             // removed, or the client shut down
	changed   chan struct{}    // closed and replaced on every change of sess or state
	recorded  int              // verified pieces in the store's resume record
	base      [3]int64         // uploaded, downloaded (and of it from web seeds) before the current session
	wanted    int64            // bytes of the wanted pieces, for wantedKey...
	wantedKey string           // ...the priorities wanted was computed for
	disc      *discovery       // the session's DHT announcer and LSD entry (dht.go)
	limits    [2]int           // own download and upload limits, bytes/s (SetRateLimits)

	readRate atomic.Int64 // bytes/s its last streaming reader measured (reader.go)
}

// InfoHash returns the torrent's info-hash.
func (t *Torrent) InfoHash() [20]byte { return t.infoHash }

// Name returns the torrent's name (its file, or its top directory); for a
// magnet whose metadata has not arrived, its display name or info-hash.
func (t *Torrent) Name() string {
	if mi := t.MetaInfo(); mi != nil {
		return mi.Info.Name
	}
	if t.magnet != nil && t.magnet.Name != "" {
		return t.magnet.Name
	}
	return fmt.Sprintf("%x", t.infoHash)
}

// MetaInfo returns the torrent's metainfo, nil while a magnet's metadata
// is being fetched. Do not modify it.
func (t *Torrent) MetaInfo() *metainfo.MetaInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mi
}

// InfoReady is closed once the metainfo is known (at once for a torrent
// added from a .torrent).
func (t *Torrent) InfoReady() <-chan struct{} { return t.infoOK }

// setInfo adopts a magnet's metainfo once its session fetched it, and
// records it in the store (its info never changes again).
func (t *Torrent) setInfo(mi *metainfo.MetaInfo) {
	t.mu.Lock()
	if t.mi != nil {
		t.mu.Unlock()
		return
	}
	t.mi = mi
	t.meta.Magnet = ""
	t.meta.Trackers, t.meta.WebSeeds = mi.Trackers(), mi.URLList
	if t.meta.Priorities == nil && t.selectFn != nil {
		// What the session chose with the same function: recorded, so
		// that Files shows it and a restart keeps it.
		if prios := t.selectFn(&mi.Info); len(prios) == len(mi.Info.Files) {
			t.meta.Priorities = encodePriorities(prios)
		}
	}
	m := t.meta
	close(t.infoOK)
	t.notify()
	t.mu.Unlock()
	if mi.Info.Private {
		t.stopDiscovery(context.Background()) // BEP 27: off the DHT and LSD from now on
	}
	if err := t.c.store.update(func(tx *bolt.Tx) error { return putRecord(tx, t.infoHash, mi.InfoBytes, &m, nil) }); err != nil {
		t.c.log.Error("writing the resume store", "torrent", t.Name(), "err", err)
	}
}

// Dir returns the directory the torrent's data is in.
func (t *Torrent) Dir() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.meta.Dir
}

// notify wakes Await; t.mu is held.
func (t *Torrent) notify() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// priorities returns the files' priorities for a session (nil before the
// metadata, or when none were set); t.mu is held.
func (t *Torrent) priorities() []session.FilePriority {
	if t.mi == nil || t.meta.Priorities == nil {
		return nil
	}
	prios := make([]session.FilePriority, len(t.mi.Info.Files))
	for i := range prios {
		if i < len(t.meta.Priorities) {
			prios[i] = session.FilePriority(t.meta.Priorities[i])
		}
	}
	return prios
}

// start starts the torrent's session; t.op is held.
func (t *Torrent) start(ctx context.Context) error {
	c := t.c
	t.mu.Lock()
	cfg := session.Config{
		Torrent:            t.mi,
		Magnet:             t.magnet,
		MetadataOnly:       t.metaOnly,
		Select:             t.selectFn,
		Dir:                t.meta.Dir,
		Env:                c.env,
		Peers:              t.peers,
		WebSeeds:           slices.Clone(t.meta.ExtraSeeds),
		Seed:               true,
		NoSyncWhenComplete: c.cfg.LazyShutdown,
		MaxPeers:           c.cfg.MaxPeersPerTorrent,
		PeerID:             c.peerID,
		FilePriorities:     t.priorities(),
		Resume:             t.resume,
		Logger:             c.log,
		DownloadRate:       t.limits[0],
		UploadRate:         t.limits[1],
	}
	t.mu.Unlock()
	s, err := session.Start(ctx, cfg)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.lastErr = err
		t.notify()
		return err
	}
	t.sess, t.lastErr = s, nil
	t.disc = c.discover(t, s)
	t.notify()
	if t.mi == nil {
		go t.awaitInfo(s) // a magnet's: adopt the metadata once fetched
	}
	return nil
}

// awaitInfo adopts the metainfo a magnet's session fetched, once it has.
func (t *Torrent) awaitInfo(s *session.Session) {
	select {
	case <-s.InfoReady():
		t.setInfo(s.MetaInfo())
	case <-s.Done():
		if mi := s.MetaInfo(); mi != nil {
			t.setInfo(mi)
		}
	}
}

// stop stops the session (if any) and keeps its final durable state for
// the record and the next start; t.op is held.
func (t *Torrent) stop(ctx context.Context) error {
	t.mu.Lock()
	s := t.sess
	t.mu.Unlock()
	if s == nil {
		return nil
	}
	t.stopDiscovery(ctx)
	err := s.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		// Out of time: stop it anyway, without waiting for trackers.
		bctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.Stop(bctx)
		cancel()
	}
	st := s.Stats()
	cp, cerr := s.Checkpoint()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.base[0] += st.Uploaded
	t.base[1] += st.Downloaded
	t.base[2] += st.WebSeedDownloaded
	t.meta.Uploaded, t.meta.Downloaded, t.meta.WebBytes = t.base[0], t.base[1], t.base[2]
	if t.meta.CompleteUnix == 0 && st.PiecesTotal > 0 && st.Left == 0 {
		t.meta.CompleteUnix = time.Now().Unix()
	}
	if cerr == nil {
		t.keep(cp)
	}
	t.sess = nil
	if err != nil && ctx.Err() == nil {
		t.lastErr = err
	}
	t.notify()
	return err
}

// keep takes a durable checkpoint as what the record claims and what the
// next start may take without reading (every file just stated is
// trusted); t.mu is held.
func (t *Torrent) keep(cp session.Checkpoint) {
	known := bitset.New(cp.Have.Len())
	known.SetAll()
	t.resume = &session.Resume{Known: known, Have: cp.Have}
	t.lastFiles = toFileStats(cp.Files)
	t.recorded = cp.Have.Count()
}

// Await returns nil once every wanted piece is verified and written. It
// waits across Pause and Resume; it returns the error of a torrent that
// failed (Stats.Err), ErrClosed once the torrent is removed or the client
// shut down, or ctx.Err().
func (t *Torrent) Await(ctx context.Context) error {
	for {
		s, err := t.current(ctx)
		if err != nil {
			return err
		}
		err = s.Await(ctx)
		if err == nil || ctx.Err() != nil || !errors.Is(err, session.ErrStopped) {
			return err // done, out of time, or failed
		}
		// Stopped: paused, removed or shut down; current waits for t to
		// change and sees which.
	}
}

// Pause stops the torrent's session (trackers told, files synced, its
// durable state recorded); it stays in the client, paused, across
// restarts, until Resume.
func (t *Torrent) Pause(ctx context.Context) error {
	t.op.Lock()
	defer t.op.Unlock()
	if t.isClosed() {
		return ErrClosed
	}
	err := t.stop(ctx)
	t.mu.Lock()
	t.meta.Paused = 1
	t.c.saveLocked(t, true)
	t.mu.Unlock()
	return err
}

func (t *Torrent) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// Resume starts a paused (or failed) torrent again; a running one is left
// as it is.
func (t *Torrent) Resume(ctx context.Context) error {
	t.op.Lock()
	defer t.op.Unlock()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	if t.sess != nil {
		t.mu.Unlock()
		return nil
	}
	t.meta.Paused = 0
	t.c.saveLocked(t, false)
	t.mu.Unlock()
	return t.start(ctx)
}

// AddPeers hands the torrent peer addresses to dial (as a tracker would).
func (t *Torrent) AddPeers(addrs ...netip.AddrPort) {
	t.mu.Lock()
	s := t.sess
	t.mu.Unlock()
	if s != nil {
		s.AddPeers(addrs...)
	}
}

// File is one file of a torrent, as Files reports it.
type File struct {
	Index    int
	Path     string // relative to the torrent's directory, '/'-separated, the torrent's name first for a multi-file torrent
	Length   int64
	Priority Priority
	// Completed is the number of the file's bytes in verified pieces.
	Completed int64
}

// Files returns the torrent's files (padding files left out), with their
// priorities and progress.
func (t *Torrent) Files() []File {
	t.mu.Lock()
	s, prios, resume, mi := t.sess, t.meta.Priorities, t.resume, t.mi
	t.mu.Unlock()
	if mi == nil {
		return nil
	}
	var have bitset.Set
	switch {
	case s != nil:
		have = s.Have()
	case resume != nil:
		have = resume.Have
	default:
		have = bitset.New(mi.Info.NumPieces())
	}
	info := &mi.Info
	var out []File
	for i, f := range info.Files {
		if f.Padding {
			continue
		}
		fl := File{Index: i, Path: filepath.ToSlash(filepath.Join(f.Path...)), Length: f.Length}
		if i < len(prios) {
			fl.Priority = Priority(prios[i])
		}
		if f.Length > 0 {
			first := int(f.Offset / info.PieceLength)
			last := int((f.Offset + f.Length - 1) / info.PieceLength)
			for p := first; p <= last; p++ {
				if have.Has(p) {
					ps := int64(p) * info.PieceLength
					fl.Completed += min(ps+info.PieceLen(p), f.Offset+f.Length) - max(ps, f.Offset)
				}
			}
		}
		out = append(out, fl)
	}
	return out
}

// SetFilePriority sets file i's priority (an index of Files' Index); it
// takes effect at once and is remembered across restarts.
func (t *Torrent) SetFilePriority(i int, p Priority) error {
	mi := t.MetaInfo()
	if mi == nil {
		return session.ErrNoMetadata
	}
	if i < 0 || i >= len(mi.Info.Files) || mi.Info.Files[i].Padding {
		return fmt.Errorf("client: no file %d in %s", i, t.Name())
	}
	return t.setPriorities(mi, func(prios []byte) { prios[i] = byte(p) }, p)
}

// SetFilePriorities sets every file's priority at once (one per file of
// the torrent, in Files' Index order; padding files' are ignored): one
// store write and one change to the session, however many files.
func (t *Torrent) SetFilePriorities(prios []Priority) error {
	mi := t.MetaInfo()
	if mi == nil {
		return session.ErrNoMetadata
	}
	if len(prios) != len(mi.Info.Files) {
		return fmt.Errorf("client: %d priorities for the %d files of %s", len(prios), len(mi.Info.Files), t.Name())
	}
	return t.setPriorities(mi, func(dst []byte) {
		for i, p := range prios {
			dst[i] = byte(p)
		}
	}, prios...)
}

// setPriorities applies set to a copy of the recorded priorities (copies
// of meta taken for the store share the old slice), records it and hands
// it to the running session.
func (t *Torrent) setPriorities(mi *metainfo.MetaInfo, set func([]byte), check ...Priority) error {
	for _, p := range check {
		if p != Normal && p != High && p != Skip {
			return fmt.Errorf("client: unknown priority %d", p)
		}
	}
	n := len(mi.Info.Files)
	t.op.Lock()
	defer t.op.Unlock()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	prios := make([]byte, n)
	if len(t.meta.Priorities) == n {
		copy(prios, t.meta.Priorities)
	}
	set(prios)
	t.meta.Priorities = prios
	t.c.saveLocked(t, false)
	s, sprios := t.sess, t.priorities()
	t.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.SetFilePriorities(sprios)
}

// Stats is a snapshot of a torrent.
type Stats struct {
	State       State
	Err         error // why it failed (State Failed)
	PiecesHave  int
	PiecesTotal int
	Length      int64 // the torrent's size
	// Wanted is the bytes of the wanted pieces (those that touch a file
	// not skipped); Left the bytes of those not verified yet.
	Wanted, Left int64
	// Downloaded and Uploaded are payload bytes since the torrent was
	// added (all sessions, across restarts).
	Downloaded, Uploaded int64
	// DownloadRate and UploadRate are payload bytes per second now.
	DownloadRate, UploadRate float64
	Peers                    int
	PeerStats                []session.PeerStats
	Added, Completed         time.Time // Completed is zero until complete
	// MetadataHave and MetadataPieces are a magnet's metadata exchange
	// progress (State Metadata).
	MetadataHave, MetadataPieces int
	// WebSeedDownloaded and WebSeedRate are the part of Downloaded and
	// DownloadRate that came from web seeds (BEP 19); WebSeeds describes
	// each web seed of the running session.
	WebSeedDownloaded int64
	WebSeedRate       float64
	WebSeeds          []session.WebSeedStats
}

// Stats returns a snapshot of the torrent. It never blocks on the network.
func (t *Torrent) Stats() Stats {
	t.mu.Lock()
	s, m, lastErr, base, resume, mi := t.sess, t.meta, t.lastErr, t.base, t.resume, t.mi
	t.mu.Unlock()
	st := Stats{
		Uploaded:   base[0],
		Downloaded: base[1],
		Added:      time.Unix(m.AddedUnix, 0),
	}
	st.WebSeedDownloaded = base[2]
	if mi != nil {
		st.PiecesTotal, st.Length = mi.Info.NumPieces(), mi.Info.TotalLength()
	}
	if m.CompleteUnix != 0 {
		st.Completed = time.Unix(m.CompleteUnix, 0)
	}
	if s == nil {
		switch {
		case lastErr != nil:
			st.State, st.Err = Failed, lastErr
		default:
			st.State = Paused
		}
		if mi == nil {
			return st
		}
		have := bitset.New(st.PiecesTotal)
		if resume != nil {
			have = resume.Have
		}
		st.PiecesHave = have.Count()
		wanted, _ := session.PiecePriorities(&mi.Info, t.filePriorities(mi, m))
		wanted.Each(func(p int) {
			st.Wanted += mi.Info.PieceLen(p)
			if !have.Has(p) {
				st.Left += mi.Info.PieceLen(p)
			}
		})
		return st
	}
	ss := s.Stats()
	switch ss.Phase {
	case session.Metadata:
		st.State = Metadata
		st.MetadataHave, st.MetadataPieces = ss.MetadataHave, ss.MetadataPieces
	case session.Checking:
		st.State = Checking
	case session.Downloading:
		st.State = Downloading
	case session.Seeding:
		st.State = Seeding
	case session.Failed:
		st.State, st.Err = Failed, s.Await(context.Background())
	default:
		st.State = Paused
	}
	st.PiecesHave, st.Left = ss.PiecesHave, ss.Left
	if mi != nil {
		st.PiecesTotal, st.Length = mi.Info.NumPieces(), mi.Info.TotalLength()
		st.Wanted = t.wantedBytes(mi, m)
	}
	st.Uploaded += ss.Uploaded
	st.Downloaded += ss.Downloaded
	st.WebSeedDownloaded += ss.WebSeedDownloaded
	st.DownloadRate, st.UploadRate = ss.DownloadRate, ss.UploadRate
	st.WebSeedRate, st.WebSeeds = ss.WebSeedRate, ss.WebSeeds
	st.Peers, st.PeerStats = ss.Peers, ss.PeerStats
	return st
}

// filePriorities returns the priorities recorded in m, nil when none.
func (t *Torrent) filePriorities(mi *metainfo.MetaInfo, m meta) []session.FilePriority {
	if m.Priorities == nil {
		return nil
	}
	out := make([]session.FilePriority, len(mi.Info.Files))
	for i := range out {
		if i < len(m.Priorities) {
			out[i] = session.FilePriority(m.Priorities[i])
		}
	}
	return out
}

// sessionStats is the running session's stats (zero when none).
func (t *Torrent) sessionStats() session.Stats {
	t.mu.Lock()
	s := t.sess
	t.mu.Unlock()
	if s == nil {
		return session.Stats{}
	}
	return s.Stats()
}

// wantedBytes is the bytes of the pieces m's priorities want (cached until
// they change).
func (t *Torrent) wantedBytes(mi *metainfo.MetaInfo, m meta) int64 {
	key := string(m.Priorities)
	t.mu.Lock()
	if t.wantedKey == key && t.wanted >= 0 {
		w := t.wanted
		t.mu.Unlock()
		return w
	}
	t.mu.Unlock()
	var w int64
	wanted, _ := session.PiecePriorities(&mi.Info, t.filePriorities(mi, m))
	wanted.Each(func(p int) { w += mi.Info.PieceLen(p) })
	t.mu.Lock()
	t.wantedKey, t.wanted = key, w
	t.mu.Unlock()
	return w
}

package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/dht"
	"github.com/effusion-bt/effusion/lsd"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/session"
	"github.com/effusion-bt/effusion/transport"
	"github.com/effusion-bt/effusion/webseed"
	bolt "go.etcd.io/bbolt"
)

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrExists: Add was given a torrent the client already has (Add
	// returns that torrent too).
	ErrExists = errors.New("client: torrent already added")
	// ErrClosed: the client was shut down, or the torrent removed.
	ErrClosed = errors.New("client: closed")
	// ErrNotFound: no torrent with that info-hash.
	ErrNotFound = errors.New("client: no such torrent")
)

// Client runs many torrents in one process: one listening port (incoming
// peers routed by info-hash), one pool of hashers, process-wide limits, and
// a crash-safe resume store, so that a restart is instant. Its methods are
// safe for concurrent use.
type Client struct {
	cfg      Config
	log      *slog.Logger
	store    *store
	listener *transport.Listener
	env      *session.Env
	peerID   [20]byte
	dht      *dht.Node    // nil: off (dht.go)
	lsd      *lsd.Service // nil: off (lsd.go)

	mu       sync.Mutex
	torrents map[[20]byte]*Torrent
	closed   bool

	stopLoop chan struct{} // closed by Shutdown: ends the checkpoint loop
	loopDone chan struct{}
}

// New opens the resume store under cfg.DataDir, listens on cfg.ListenAddr,
// and starts every torrent the store holds (except paused ones) without
// rehashing what the store vouches for. A store that cannot be read fails
// New with a *StoreError naming the file (Config.ResetResume starts
// afresh); another process using it fails with ErrStoreInUse. ctx bounds
// only the start.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("client: data directory: %w", err)
	}
	st, err := openStore(cfg.DataDir, cfg.ResetResume)
	if err != nil {
		return nil, err
	}
	ln, err := transport.Listen(ctx, cfg.listenConfig())
	if err != nil {
		st.close()
		return nil, err
	}
	c := &Client{
		cfg:      cfg,
		log:      cfg.Logger,
		store:    st,
		listener: ln,
		peerID:   session.NewPeerID(),
		torrents: make(map[[20]byte]*Torrent),
		stopLoop: make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	if err := c.startDHT(ctx); err != nil {
		ln.Close()
		st.close()
		return nil, err
	}
	c.startLSD(ctx)
	c.env = session.NewEnv(session.EnvConfig{
		Listener:          ln,
		MaxPeers:          cfg.MaxPeers,
		MaxHalfOpen:       cfg.MaxHalfOpen,
		DownloadRate:      cfg.DownloadRate,
		UploadRate:        cfg.UploadRate,
		Encryption:        cfg.Encryption,
		Transport:         cfg.Transport,
		DHTPort:           c.dhtPort(),
		OnPort:            c.onPort,
		MaxOpenFiles:      cfg.MaxOpenFiles,
		BufferedWrites:    cfg.BufferedWrites,
		MaxInflightBlocks: cfg.MaxInflightBlocks,
	})
	if err := c.restore(ctx); err != nil {
		c.env.Close()
		c.closeDiscovery()
		ln.Close()
		st.close()
		return nil, err
	}
	go c.checkpointLoop()
	return c, nil
}

// Addr returns the address the client accepts peers on.
func (c *Client) Addr() netip.AddrPort { return c.listener.Addr() }

// SetRateLimits changes the process-wide limits (bytes per second; 0:
// unlimited) at once.
func (c *Client) SetRateLimits(down, up int) { c.env.SetRateLimits(down, up) }

// SetEncryption changes the encryption policy of new connections, both
// ways.
func (c *Client) SetEncryption(p mse.Policy) {
	c.listener.SetEncryption(p)
	c.env.SetEncryption(p)
}

// ListenerCounts reports how incoming connections ended up (plain,
// encrypted, refused by the policy, failed handshakes...).
func (c *Client) ListenerCounts() transport.Counts { return c.listener.Counts() }

// restore loads the store's torrents and starts those not paused.
func (c *Client) restore(ctx context.Context) error {
	recs, err := c.store.load()
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.err != nil {
			c.log.Error("resume store: torrent left out", "infohash", fmt.Sprintf("%x", r.infoHash), "err", r.err)
			continue
		}
		if len(r.info) == 0 { // a magnet whose metadata had not come
			mg, err := metainfo.ParseMagnetOrHash(r.meta.Magnet)
			if err != nil || mg.InfoHash != r.infoHash {
				c.log.Error("resume store: torrent left out: its magnet does not parse or match", "infohash", fmt.Sprintf("%x", r.infoHash), "err", err)
				continue
			}
			t := c.newTorrent(nil, r.meta)
			t.magnet = mg
			c.torrents[r.infoHash] = t
			continue
		}
		mi, err := metainfo.ParseInfo(r.info)
		if err != nil || mi.InfoHash != r.infoHash {
			c.log.Error("resume store: torrent left out: its info does not parse or match", "infohash", fmt.Sprintf("%x", r.infoHash), "err", err)
			continue
		}
		setTrackers(mi, r.meta.Trackers, r.meta.WebSeeds)
		t := c.newTorrent(mi, r.meta)
		now, err := session.StatFiles(r.meta.Dir, &mi.Info)
		if err == nil {
			t.resume = trust(&mi.Info, r.resume, now)
		}
		if t.resume != nil {
			t.recorded = t.resume.Have.Count()
		}
		c.torrents[mi.InfoHash] = t
	}
	// Start them concurrently: each start is quick but there may be
	// thousands.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, t := range c.torrents {
		if t.meta.Paused != 0 || c.cfg.NoAutoStart {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			t.op.Lock()
			defer t.op.Unlock()
			if err := t.start(ctx); err != nil {
				c.log.Error("starting a torrent from the resume store", "torrent", t.Name(), "err", err)
			}
		}()
	}
	wg.Wait()
	return nil
}

// encodePriorities is the store's form of file priorities (nil: none set).
func encodePriorities(prios []Priority) []byte {
	if prios == nil {
		return nil
	}
	b := make([]byte, len(prios))
	for i, p := range prios {
		b[i] = byte(p)
	}
	return b
}

// setTrackers puts the recorded trackers and web seeds back on a metainfo
// parsed from its bare info dictionary.
func setTrackers(mi *metainfo.MetaInfo, tiers [][]string, webSeeds []string) {
	mi.AnnounceList = tiers
	if len(tiers) > 0 && len(tiers[0]) > 0 {
		mi.Announce = tiers[0][0]
	}
	mi.URLList = webSeeds
}

// newTorrent makes a torrent from its metainfo, or (mi nil) from the
// magnet in m.
func (c *Client) newTorrent(mi *metainfo.MetaInfo, m meta) *Torrent {
	t := &Torrent{c: c, mi: mi, meta: m, changed: make(chan struct{}), infoOK: make(chan struct{}), wanted: -1}
	if mi != nil {
		t.infoHash = mi.InfoHash
		close(t.infoOK)
	}
	t.base = [3]int64{m.Uploaded, m.Downloaded, m.WebBytes}
	return t
}

// Spec describes a torrent to add.
type Spec struct {
	// Torrent is the parsed .torrent; or, without it, Magnet.
	Torrent *metainfo.MetaInfo
	// Magnet is a magnet link or a bare info-hash (40 hex or 32 base32
	// digits): the torrent's info dictionary is fetched from peers first
	// (State Metadata), from the magnet's trackers and x.pe peers and
	// Peers. Errors in it are *metainfo.FieldError values.
	Magnet string
	// Select, when set, chooses the file priorities once the info is known
	// (a magnet's files are not known before); Priorities, when set, wins.
	Select func(info *metainfo.Info) []Priority
	// MetadataOnly stops a magnet's torrent once its metadata is fetched
	// (InfoReady, MetaInfo); it stays in the client, stopped.
	MetadataOnly bool
	// Dir is where its data goes (default: Config.DownloadDir).
	Dir string
	// Priorities, when set, gives one priority per file of the torrent
	// (default: all Normal).
	Priorities []Priority
	// Peers are dialled at every start, besides what trackers return.
	Peers []netip.AddrPort
	// WebSeeds are web seed URLs (BEP 19) used beside the torrent's
	// url-list (a magnet's ws=), at every start; each must be an http or
	// https URL (else Add returns an error wrapping webseed.ErrBadURL).
	WebSeeds []string
	// Paused adds the torrent without starting it.
	Paused bool
}

// Add adds a torrent and starts it (unless spec.Paused). A torrent already
// present is returned with an error wrapping ErrExists.
func (c *Client) Add(ctx context.Context, spec Spec) (*Torrent, error) {
	mi := spec.Torrent
	var mg *metainfo.Magnet
	switch {
	case mi == nil && spec.Magnet == "":
		return nil, errors.New("client: Spec.Torrent or Spec.Magnet is required")
	case mi == nil:
		var err error
		if mg, err = metainfo.ParseMagnetOrHash(spec.Magnet); err != nil {
			return nil, err
		}
	case spec.Priorities != nil && len(spec.Priorities) != len(mi.Info.Files):
		return nil, fmt.Errorf("client: %d priorities for %d files", len(spec.Priorities), len(mi.Info.Files))
	}
	for _, u := range spec.WebSeeds {
		if err := webseed.CheckURL(u); err != nil {
			return nil, fmt.Errorf("client: web seed: %w", err)
		}
	}
	ih := [20]byte{}
	if mi != nil {
		ih = mi.InfoHash
	} else {
		ih = mg.InfoHash
	}
	dir := spec.Dir
	if dir == "" {
		dir = c.cfg.DownloadDir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if t := c.torrents[ih]; t != nil {
		c.mu.Unlock()
		return t, fmt.Errorf("%w: %s", ErrExists, t.Name())
	}
	m := meta{Dir: abs, AddedUnix: time.Now().Unix()}
	if mi != nil {
		m.Trackers, m.WebSeeds = mi.Trackers(), mi.URLList
	} else {
		m.Magnet = mg.String()
	}
	prios := spec.Priorities
	if prios == nil && spec.Select != nil && mi != nil {
		if prios = spec.Select(&mi.Info); prios != nil && len(prios) != len(mi.Info.Files) {
			c.mu.Unlock()
			return nil, fmt.Errorf("client: Select gave %d priorities for %d files", len(prios), len(mi.Info.Files))
		}
	}
	m.Priorities = encodePriorities(prios)
	if spec.Paused {
		m.Paused = 1
	}
	m.ExtraSeeds = addNew(nil, spec.WebSeeds)
	t := c.newTorrent(mi, m)
	if mg != nil {
		t.infoHash, t.magnet = mg.InfoHash, mg
	}
	t.peers = slices.Clone(spec.Peers)
	t.metaOnly = spec.MetadataOnly
	t.selectFn = spec.Select
	c.torrents[ih] = t
	t.op.Lock()
	c.mu.Unlock()
	defer t.op.Unlock()
	var info []byte
	if mi != nil {
		info = mi.InfoBytes
	}
	// A copy: the checkpoint loop may already be updating t.meta (under t.mu).
	t.mu.Lock()
	rec := t.meta
	t.mu.Unlock()
	if err := c.store.update(func(tx *bolt.Tx) error { return putRecord(tx, t.infoHash, info, &rec, nil) }); err != nil {
		c.forgetTorrent(t)
		return nil, &StoreError{Path: c.store.path, Err: err}
	}
	if spec.Paused {
		return t, nil
	}
	if err := t.start(ctx); err != nil {
		return t, err
	}
	return t, nil
}

func (c *Client) forgetTorrent(t *Torrent) {
	c.mu.Lock()
	if c.torrents[t.infoHash] == t {
		delete(c.torrents, t.infoHash)
	}
	c.mu.Unlock()
}

// Torrent returns the torrent with info-hash ih.
func (c *Client) Torrent(ih [20]byte) (*Torrent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.torrents[ih]
	return t, ok
}

// Torrents returns every torrent, in the order they were added.
func (c *Client) Torrents() []*Torrent {
	c.mu.Lock()
	out := make([]*Torrent, 0, len(c.torrents))
	for _, t := range c.torrents {
		out = append(out, t)
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b *Torrent) int {
		if d := a.meta.AddedUnix - b.meta.AddedUnix; d != 0 {
			return int(d)
		}
		return slices.Compare(a.infoHash[:], b.infoHash[:])
	})
	return out
}

// RemoveOption says what Remove does besides forgetting the torrent.
type RemoveOption uint8

// Remove options.
const (
	// KeepData leaves the downloaded files where they are.
	KeepData RemoveOption = iota
	// DeleteData deletes the torrent's files (and its part file, and the
	// directories of a multi-file torrent left empty).
	DeleteData
)

// Remove stops a torrent and forgets it (its resume record too), deleting
// its data with DeleteData.
func (c *Client) Remove(ctx context.Context, ih [20]byte, opt RemoveOption) error {
	c.mu.Lock()
	t := c.torrents[ih]
	delete(c.torrents, ih)
	c.mu.Unlock()
	if t == nil {
		return fmt.Errorf("%w: %x", ErrNotFound, ih)
	}
	t.op.Lock()
	err := t.stop(ctx)
	t.mu.Lock()
	t.closed = true
	t.notify()
	dir := t.meta.Dir
	t.mu.Unlock()
	t.op.Unlock()
	if ferr := c.store.forget(ih); ferr != nil && err == nil {
		err = &StoreError{Path: c.store.path, Err: ferr}
	}
	if mi := t.MetaInfo(); opt == DeleteData && mi != nil {
		if derr := deleteData(dir, &mi.Info); derr != nil && err == nil {
			err = derr
		}
	}
	return err
}

// deleteData removes a torrent's files under dir, its part file, and the
// directories of a multi-file torrent that are left empty. Paths are proven
// to stay under dir first (metainfo.SafeJoin).
func deleteData(dir string, info *metainfo.Info) error {
	var first error
	var dirs []string
	for _, f := range info.Files {
		if f.Padding {
			continue
		}
		p, err := metainfo.SafeJoin(dir, f.Path)
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = err
		}
		for d := filepath.Dir(p); len(d) > len(dir); d = filepath.Dir(d) {
			dirs = append(dirs, d)
		}
	}
	if len(info.Files) > 0 && len(info.Files[0].Path) > 0 {
		os.Remove(filepath.Join(dir, "."+info.Files[0].Path[0]+".parts"))
	}
	// Deepest first; a directory with someone else's files stays.
	slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	for _, d := range slices.Compact(dirs) {
		os.Remove(d)
	}
	return first
}

// Shutdown stops every torrent (trackers told, files synced), records
// their durable state in the resume store, and closes the listener and the
// store. ctx bounds the whole; torrents still stopping when it ends are
// left to the next start to check. Calling it again returns ErrClosed.
func (c *Client) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	ts := make([]*Torrent, 0, len(c.torrents))
	for _, t := range c.torrents {
		ts = append(ts, t)
	}
	c.mu.Unlock()
	close(c.stopLoop)
	<-c.loopDone
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, t := range ts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			t.op.Lock()
			defer t.op.Unlock()
			t.stop(ctx)
			t.mu.Lock()
			t.closed = true
			t.notify()
			t.mu.Unlock()
		}()
	}
	wg.Wait()
	err := c.saveAll(ts, true)
	c.closeDiscovery()
	c.listener.Close()
	c.env.Close()
	if cerr := c.store.close(); err == nil {
		err = cerr
	}
	return err
}

// Close shuts the client down without waiting long for trackers: Shutdown
// bounded by a second (torrents still stopping then are stopped without
// telling their trackers).
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := c.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	return err
}

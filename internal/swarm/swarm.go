// Package swarm runs a whole BitTorrent swarm on loopback inside one process:
// a random payload, its torrent, the embedded tracker, one or more seeders and
// several leechers (each an Effusion session on its own 127.0.0.1 port). It
// shows the leechers' progress, checks every copy byte for byte against the
// payload and reports time, throughput, CPU and memory. It backs the
// "effusion swarm" command.
package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/internal/units"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/session"
	"github.com/effusion-bt/effusion/tracker/server"
)

// Defaults for the zero values of Config.
const (
	DefaultSize     = 256 << 20
	DefaultLeechers = 4
	DefaultSeeders  = 1
	DefaultInterval = time.Second // plain progress lines
)

// Config describes one swarm run. The zero value is the default run: 256 MiB
// in one file, the piece length chosen by the torrent builder, one seeder and
// four leechers, in a temporary directory removed afterwards.
type Config struct {
	// Size is the payload's total length in bytes (default 256 MiB).
	Size int64
	// Files is the number of payload files (default 1: a single-file torrent).
	Files int
	// PieceLength is the torrent's piece length; 0 lets the builder choose.
	PieceLength int64
	// Leechers and Seeders count the sessions (defaults 4 and 1). Seeders
	// share one copy of the payload, which they only read.
	Leechers, Seeders int
	// Dir is the work directory (it is created if missing); empty means a new
	// temporary directory. The payload, the .torrent and one directory per
	// leecher go under it.
	Dir string
	// Keep leaves the work directory in place; otherwise Run removes what it
	// created.
	Keep bool
	// Progress receives the live progress and nothing else; nil means none.
	Progress io.Writer
	// Bars draws live bars on Progress (a terminal); otherwise Progress gets
	// a plain line every Interval.
	Bars bool
	// Interval is the period of plain progress lines (default 1 s).
	Interval time.Duration
	// Logger receives the sessions' and tracker's logs; nil discards them.
	Logger *slog.Logger
	// OnTransferStart and OnTransferEnd, if set, are called on Run's
	// goroutine just before the leechers start and once the last one has
	// completed (or the run failed), e.g. to profile only the transfer.
	OnTransferStart, OnTransferEnd func()
	// DHT makes the run trackerless: no tracker, a loopback DHT of
	// DHTNodes in-process nodes (default DefaultDHTNodes) on which every
	// session has an announcer; the seeders announce themselves and the
	// leechers start from a magnet link of the bare info-hash, finding the
	// seeders, the metadata and each other through the DHT only.
	DHT      bool
	DHTNodes int
}

// LeecherResult is what one leecher achieved.
type LeecherResult struct {
	Addr      netip.AddrPort // its listening address
	Elapsed   time.Duration  // from the leechers' start to its completion
	PeersSeen int            // distinct peers it was connected to
	Verified  bool           // its copy matched the payload byte for byte
}

// Result describes a finished run. Durations and throughput count from the
// moment the leechers start (the seeders have already checked their data).
type Result struct {
	Size        int64  // payload bytes
	Files       int    // payload files
	PieceLength int64  // the torrent's piece length
	Pieces      int    // the torrent's piece count
	Seeders     int    // seeding sessions
	Tracker     string // the embedded tracker's announce URL (none with Config.DHT)
	DHTNodes    int    // the loopback DHT's nodes (Config.DHT), else 0
	Dir         string // the work directory if Config.Keep, else empty (removed)

	Setup    time.Duration   // payload, torrent, tracker and seeders' check
	Elapsed  time.Duration   // until the last leecher completed
	Leechers []LeecherResult // in start order
	// CPU is user+system time of the whole process during the transfer;
	// TotalCPU includes set-up and verification.
	CPU, TotalCPU time.Duration
	// MaxRSS is the process's peak resident set size in bytes (getrusage).
	MaxRSS int64
}

// Throughput returns the aggregate download rate in bytes per second: every
// leecher's bytes over the time until the last one completed.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Size) * float64(len(r.Leechers)) / r.Elapsed.Seconds()
}

// ErrIncomplete is returned when a leecher failed to complete.
var ErrIncomplete = errors.New("swarm: a leecher did not complete")

// ErrBadConfig is wrapped by Run's errors for a Config out of bounds.
var ErrBadConfig = errors.New("bad swarm configuration")

// Run creates the payload and the torrent, starts the tracker, the seeders
// and the leechers, waits until every leecher has completed, stops them all,
// verifies every copy and returns the result. It returns an error wrapping
// ErrMismatch (with the Result) if a copy differs, ErrIncomplete if a leecher
// failed, ErrBadConfig for a Config out of bounds, ctx.Err() if ctx ends
// first, or the set-up error. Every goroutine it
// starts has ended when it returns.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	start := time.Now()
	u0 := readUsage()
	dir, cleanup, err := workDir(cfg.Dir, cfg.Keep)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	res = &Result{Size: cfg.Size, Files: cfg.Files, Seeders: cfg.Seeders}
	if cfg.Keep {
		res.Dir = dir
	}

	seedDir := filepath.Join(dir, "seed")
	pl, err := makePayload(seedDir, "swarm-payload", cfg.Size, cfg.Files)
	if err != nil {
		return nil, err
	}
	var trk *server.Server
	var tl *trackerless
	if cfg.DHT {
		if tl, err = startTrackerless(ctx, cfg.DHTNodes, cfg.Logger); err != nil {
			return nil, err
		}
		defer tl.close() // after the sessions stop (defers run last first)
		res.DHTNodes = cfg.DHTNodes
	} else {
		trk, err = server.Start(ctx, server.Config{HTTPAddr: "127.0.0.1:0", Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("swarm: tracker: %w", err)
		}
		defer trk.Close()
		res.Tracker = trk.AnnounceURL()
	}
	mi, err := buildTorrent(ctx, pl.path, res.Tracker, cfg.PieceLength, filepath.Join(dir, "swarm.torrent"))
	if err != nil {
		return nil, err
	}
	res.PieceLength, res.Pieces = mi.Info.PieceLength, mi.Info.NumPieces()

	// One environment for every session, as a client shares one among its
	// torrents: one pool of hashers, one budget of received blocks.
	env := session.NewEnv(session.EnvConfig{})
	defer env.Close() // after the sessions stop (defers run last first)
	var all []*session.Session
	defer func() { stopAll(all) }()
	// Leechers seed too (Seed: true): each serves the others what it has.
	// Trackerless, leechers start from a bare magnet link and every session
	// has a DHT announcer.
	newSession := func(d string, leecher bool) (*session.Session, error) {
		sc := session.Config{Torrent: mi, Dir: d, Env: env, ListenAddr: "127.0.0.1:0", Seed: true, Logger: cfg.Logger}
		if cfg.DHT && leecher {
			m, err := bareMagnet(mi.InfoHash)
			if err != nil {
				return nil, err
			}
			sc.Torrent, sc.Magnet = nil, m
		}
		s, err := session.Start(ctx, sc)
		if err != nil {
			return nil, err
		}
		all = append(all, s)
		if tl != nil {
			if err := tl.announce(ctx, s); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	var seedAddrs []netip.AddrPort
	for range cfg.Seeders {
		s, err := newSession(seedDir, false)
		if err != nil {
			return nil, fmt.Errorf("swarm: seeder: %w", err)
		}
		seedAddrs = append(seedAddrs, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), s.Addr().Port()))
		have, total, err := s.Checked(ctx)
		if err != nil {
			return nil, fmt.Errorf("swarm: seeder check: %w", err)
		}
		if have != total {
			return nil, fmt.Errorf("swarm: seeder verified %d of %d pieces of its own payload", have, total)
		}
	}
	// Leechers find the seeders through the tracker (or the DHT): start
	// them only once every seeder's announce has landed.
	if tl != nil {
		err = tl.awaitSeeds(ctx, mi.InfoHash, seedAddrs)
	} else {
		err = awaitSeeds(ctx, trk, mi.InfoHash, cfg.Seeders)
	}
	if err != nil {
		return nil, err
	}
	res.Setup = time.Since(start)
	if cfg.Progress != nil {
		where := "tracker on " + res.Tracker
		if tl != nil {
			where = fmt.Sprintf("no tracker, a loopback DHT of %d nodes", res.DHTNodes)
		}
		fmt.Fprintf(cfg.Progress, "swarm: %s payload and its torrent made, %s, %d seeder(s) checked in %.1fs; starting %d leechers\n",
			units.Format(cfg.Size), where, cfg.Seeders, res.Setup.Seconds(), cfg.Leechers)
	}

	if cfg.OnTransferStart != nil {
		cfg.OnTransferStart()
	}
	if cfg.OnTransferEnd != nil {
		defer func() {
			if end := cfg.OnTransferEnd; end != nil {
				cfg.OnTransferEnd = nil
				end()
			}
		}()
	}
	u1 := readUsage()
	t0 := time.Now()
	leechers := make([]*session.Session, cfg.Leechers)
	res.Leechers = make([]LeecherResult, cfg.Leechers)
	for i := range leechers {
		s, err := newSession(filepath.Join(dir, fmt.Sprintf("leecher-%d", i+1)), true)
		if err != nil {
			return nil, fmt.Errorf("swarm: leecher %d: %w", i+1, err)
		}
		leechers[i] = s
		res.Leechers[i].Addr = s.Addr()
	}
	if err := watch(ctx, cfg, leechers, res, t0); err != nil {
		return res, err
	}
	res.CPU = readUsage().cpu - u1.cpu
	if end := cfg.OnTransferEnd; end != nil {
		cfg.OnTransferEnd = nil
		end()
	}
	for _, l := range res.Leechers {
		res.Elapsed = max(res.Elapsed, l.Elapsed)
	}
	stopAll(all)
	all = nil

	verr := verifyAll(pl, seedDir, dir, res)
	u2 := readUsage()
	res.TotalCPU, res.MaxRSS = u2.cpu-u0.cpu, u2.maxRSS
	return res, verr
}

func (c Config) withDefaults() Config {
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.Files == 0 {
		c.Files = 1
	}
	if c.Leechers == 0 {
		c.Leechers = DefaultLeechers
	}
	if c.Seeders == 0 {
		c.Seeders = DefaultSeeders
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.DHT && c.DHTNodes == 0 {
		c.DHTNodes = DefaultDHTNodes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Limits that keep a run on one machine sane.
const (
	maxLeechers = 64
	maxSeeders  = 16
	maxFiles    = 10000
)

func (c Config) check() error {
	if err := c.checkBounds(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return nil
}

func (c Config) checkBounds() error {
	switch {
	case c.Size < 0:
		return fmt.Errorf("swarm: size %d: negative", c.Size)
	case c.Files < 1 || c.Files > maxFiles:
		return fmt.Errorf("swarm: files %d: want 1..%d", c.Files, maxFiles)
	case int64(c.Files) > c.Size:
		return fmt.Errorf("swarm: %d files need at least %d bytes", c.Files, c.Files)
	case c.Leechers < 1 || c.Leechers > maxLeechers:
		return fmt.Errorf("swarm: leechers %d: want 1..%d", c.Leechers, maxLeechers)
	case c.Seeders < 1 || c.Seeders > maxSeeders:
		return fmt.Errorf("swarm: seeders %d: want 1..%d", c.Seeders, maxSeeders)
	case c.DHT && (c.DHTNodes < 1 || c.DHTNodes > maxDHTNodes):
		return fmt.Errorf("swarm: DHT nodes %d: want 1..%d", c.DHTNodes, maxDHTNodes)
	case c.PieceLength < 0 || c.PieceLength&(c.PieceLength-1) != 0 || (c.PieceLength > 0 && c.PieceLength < 16<<10):
		return fmt.Errorf("swarm: piece length %d: want 0 (auto) or a power of two of at least 16 KiB", c.PieceLength)
	}
	return nil
}

// workDir returns the work directory and a function that removes what Run
// created there (nothing when keep).
func workDir(dir string, keep bool) (string, func() error, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "effusion-swarm-")
		if err != nil {
			return "", nil, err
		}
		if keep {
			return d, func() error { return nil }, nil
		}
		return d, func() error { return os.RemoveAll(d) }, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	// In a caller's directory, remove only our own entries.
	d, err := os.MkdirTemp(dir, "swarm-")
	if err != nil {
		return "", nil, err
	}
	if keep {
		return d, func() error { return nil }, nil
	}
	return d, func() error { return os.RemoveAll(d) }, nil
}

// awaitSeeds polls the in-process tracker until it lists n complete peers.
func awaitSeeds(ctx context.Context, trk *server.Server, ih [20]byte, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if c, _, _, ok := trk.Stats(ih); ok && c >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("swarm: waiting for the seeders' announce: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// watch shows the leechers' progress until every one has completed, and
// records each one's completion time and peers.
func watch(ctx context.Context, cfg Config, ls []*session.Session, res *Result, t0 time.Time) error {
	type done struct {
		i   int
		at  time.Duration
		err error
	}
	ch := make(chan done, len(ls))
	actx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i, s := range ls {
		wg.Go(func() {
			err := s.Await(actx)
			ch <- done{i, time.Since(t0), err}
		})
	}
	var pr progress
	if cfg.Progress != nil && cfg.Bars {
		pr = newBarProgress(cfg.Progress, len(ls), cfg.Size)
	} else if cfg.Progress != nil {
		pr = &lineProgress{w: cfg.Progress, size: cfg.Size, interval: cfg.Interval}
	}
	seen := make([]map[netip.AddrPort]bool, len(ls))
	for i := range seen {
		seen[i] = make(map[netip.AddrPort]bool)
	}
	snaps := make([]snap, len(ls))
	sample := func() {
		for i, s := range ls {
			st := s.Stats()
			if res.Leechers[i].Elapsed == 0 {
				snaps[i] = snap{done: max(0, st.Length-st.Left), peers: st.Peers}
				if st.Length == 0 {
					snaps[i].done = 0
				}
			}
			for _, p := range st.PeerStats {
				seen[i][p.Addr] = true
			}
			res.Leechers[i].PeersSeen = len(seen[i])
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var err error
	for left := len(ls); left > 0 && err == nil; {
		select {
		case d := <-ch:
			left--
			if d.err != nil {
				err = fmt.Errorf("%w: leecher %d: %w", ErrIncomplete, d.i+1, d.err)
			} else {
				res.Leechers[d.i].Elapsed = d.at
				snaps[d.i].done = cfg.Size
			}
		case <-tick.C:
			sample()
			if pr != nil {
				pr.update(time.Since(t0), snaps)
			}
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	sample()
	if pr != nil {
		pr.finish(time.Since(t0), snaps, err == nil)
	}
	return err
}

// stopAll stops sessions concurrently, each bounded in time.
func stopAll(ss []*session.Session) {
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Stop(ctx)
		})
	}
	wg.Wait()
}

// verifyAll compares every leecher's copy with the payload, in parallel.
func verifyAll(pl *payload, seedDir, dir string, res *Result) error {
	errs := make([]error, len(res.Leechers))
	var wg sync.WaitGroup
	for i := range res.Leechers {
		wg.Go(func() {
			errs[i] = pl.verify(i+1, seedDir, filepath.Join(dir, fmt.Sprintf("leecher-%d", i+1)))
			res.Leechers[i].Verified = errs[i] == nil
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// buildTorrent creates the payload's torrent announcing to tracker and writes
// it to out (so that --keep leaves a usable .torrent).
func buildTorrent(ctx context.Context, path, tracker string, pieceLen int64, out string) (*metainfo.MetaInfo, error) {
	var tiers [][]string
	if tracker != "" {
		tiers = [][]string{{tracker}}
	}
	mi, raw, err := metainfo.Build(ctx, path, metainfo.BuildOptions{
		PieceLength: pieceLen,
		Trackers:    tiers,
		CreatedBy:   "effusion swarm",
	})
	if err != nil {
		return nil, fmt.Errorf("swarm: creating the torrent: %w", err)
	}
	if err := os.WriteFile(out, raw, 0o644); err != nil {
		return nil, err
	}
	return mi, nil
}

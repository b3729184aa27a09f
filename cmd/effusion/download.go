package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/webseed"
	"github.com/spf13/cobra"
)

// transferFlags are the flags download and seed share.
type transferFlags struct {
	bind        string
	port        int
	peers       []string
	maxPeers    int
	dlRate      string
	ulRate      string
	json        bool
	dataDir     string
	resetResume bool
	verbose     bool
	encryption  mse.Policy
	buffered    bool
	net         netFlags
}

func (f *transferFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.port, "port", 6881, "port to accept peers on, TCP and uTP (UDP, shared with the DHT); 0 picks a free one")
	fl.StringVar(&f.bind, "bind", "", "IP address to accept peers on, e.g. 127.0.0.1 (empty: every interface)")
	fl.StringArrayVar(&f.peers, "peer", nil, "peer HOST:PORT to connect to (repeatable; works without a tracker)")
	fl.IntVar(&f.maxPeers, "max-peers", client.DefaultMaxPeersPerTorrent, "most peers connected at once, per torrent")
	fl.StringVar(&f.dlRate, "download-rate", "", "download limit in bytes/s for all torrents (suffixes k, M, G; empty: unlimited)")
	fl.StringVar(&f.ulRate, "upload-rate", "", "upload limit in bytes/s for all torrents (suffixes k, M, G; empty: unlimited)")
	fl.BoolVar(&f.json, "json", false, "print progress as JSON lines on stdout")
	fl.StringVar(&f.dataDir, "data-dir", "", "where resume data is kept (default: $XDG_DATA_HOME/effusion or ~/.local/share/effusion)")
	fl.BoolVar(&f.resetResume, "reset-resume", false, "set an unreadable resume store aside and start afresh (downloaded data is kept)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log peer and tracker events")
	fl.Var(&f.encryption, "encryption", "message stream encryption: prefer (try it, fall back to plain), require (never plain) or off")
	fl.BoolVar(&f.buffered, "buffered-writes", false, bufferedWritesUsage)
	f.net.register(fl)
}

const bufferedWritesUsage = "write every piece through the page cache (default on Linux: aligned pieces are written with O_DIRECT, bypassing it)"

// transfer is what the flags describe, checked.
type transfer struct {
	cfg   client.Config
	peers []netip.AddrPort
}

// check validates the flags and builds the client's configuration.
func (f *transferFlags) check() (transfer, error) {
	var tr transfer
	if f.port < 0 || f.port > 65535 {
		return tr, fmt.Errorf("--port %d: not a port", f.port)
	}
	if f.maxPeers < 1 {
		return tr, fmt.Errorf("--max-peers %d: must be at least 1", f.maxPeers)
	}
	if ip, err := netip.ParseAddr(f.bind); f.bind != "" && (err != nil || ip.Zone() != "") {
		return tr, fmt.Errorf("--bind %q: not an IP address", f.bind)
	}
	for _, p := range f.peers {
		ap, err := resolvePeer(p)
		if err == nil {
			err = checkPeerAddr(ap)
		}
		if err != nil {
			return tr, fmt.Errorf("--peer %q: %w", p, err)
		}
		tr.peers = append(tr.peers, ap)
	}
	tr.cfg = client.Config{
		DataDir:            f.dataDir,
		ListenAddr:         net.JoinHostPort(f.bind, strconv.Itoa(f.port)),
		MaxPeersPerTorrent: f.maxPeers,
		ResetResume:        f.resetResume,
		Encryption:         f.encryption,
		BufferedWrites:     f.buffered,
	}
	if err := f.net.apply(&tr.cfg); err != nil {
		return tr, err
	}
	var err error
	if tr.cfg.DownloadRate, err = parseRate(f.dlRate); err != nil {
		return tr, fmt.Errorf("--download-rate: %w", err)
	}
	if tr.cfg.UploadRate, err = parseRate(f.ulRate); err != nil {
		return tr, fmt.Errorf("--upload-rate: %w", err)
	}
	return tr, nil
}

// resolvePeer parses HOST:PORT, resolving a host name.
func resolvePeer(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil || pn == 0 {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", port)
	}
	ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("cannot resolve %q: %v", host, err)
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(pn)), nil
}

// startClient starts the client. When the default port is taken it falls
// back to a free one (an explicit --port is never changed); when another
// effusion holds the resume store, it runs without one (saying so).
func startClient(ctx context.Context, cfg client.Config, portSet bool, stderr io.Writer) (*client.Client, func(), error) {
	noop := func() {}
	c, err := client.New(ctx, cfg)
	if err != nil && !portSet && errors.Is(err, syscall.EADDRINUSE) {
		host, _, _ := net.SplitHostPort(cfg.ListenAddr) // keep --bind
		cfg.ListenAddr = net.JoinHostPort(host, "0")
		c, err = client.New(ctx, cfg)
	}
	if errors.Is(err, client.ErrStoreInUse) {
		tmp, terr := os.MkdirTemp("", "effusion-state-")
		if terr != nil {
			return nil, noop, err
		}
		fmt.Fprintf(stderr, "note: %v; this run keeps no resume data\n", err)
		cfg.DataDir = tmp
		c, _, err = startClient(ctx, cfg, portSet, stderr)
		return c, func() { os.RemoveAll(tmp) }, err
	}
	var se *client.StoreError
	if errors.As(err, &se) {
		return nil, noop, badInput(err)
	}
	return c, noop, err
}

// fileSelection is --only and --skip: globs (path.Match) over a file's path
// inside the torrent and over its base name.
type fileSelection struct {
	only, skip []string
}

func (fs fileSelection) check() error {
	for _, g := range append(append([]string(nil), fs.only...), fs.skip...) {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("bad pattern %q: %w", g, err)
		}
	}
	return nil
}

func matchAny(globs []string, p string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
		if ok, _ := path.Match(g, path.Base(p)); ok {
			return true
		}
	}
	return false
}

// priorities returns the files' priorities for info (nil: everything).
func (fs fileSelection) priorities(info *metainfo.Info) []client.Priority {
	if len(fs.only) == 0 && len(fs.skip) == 0 {
		return nil
	}
	out := make([]client.Priority, len(info.Files))
	for i, f := range info.Files {
		rel := path.Join(f.Path...)
		if info.MultiFile && len(f.Path) > 1 {
			rel = path.Join(f.Path[1:]...) // inside the torrent's directory
		}
		if len(fs.only) > 0 && !matchAny(fs.only, rel) || matchAny(fs.skip, rel) {
			out[i] = client.Skip
		}
	}
	return out
}

// source is one torrent to download: a .torrent, or a magnet link or bare
// info-hash.
type source struct {
	mi     *metainfo.MetaInfo
	magnet string
}

// loadSource reads a command-line argument: an existing file is a
// .torrent; otherwise something shaped like a magnet link or an info-hash
// is one (checked at once: a malformed one is bad input naming the
// problem).
func loadSource(arg string) (source, error) {
	if _, err := os.Stat(arg); err != nil && metainfo.LooksLikeMagnetOrHash(arg) {
		if _, err := metainfo.ParseMagnetOrHash(arg); err != nil {
			return source{}, badInput(fmt.Errorf("magnet: %w", err))
		}
		return source{magnet: arg}, nil
	}
	mi, err := loadTorrent(arg)
	return source{mi: mi}, err
}

func newDownloadCmd() *cobra.Command {
	var (
		tf           transferFlags
		sel          fileSelection
		out          string
		seed         bool
		cpuProfile   string
		metadataOnly bool
		saveTorrent  string
		webSeeds     []string
	)
	cmd := &cobra.Command{
		Use:   "download FILE.torrent|MAGNET|INFOHASH...",
		Short: "Download torrents; exit 0 once every wanted piece is verified on disk",
		Long: `Download one or more torrents into a directory, verifying every piece.

Each argument is a .torrent file, a magnet link or a bare info-hash (40 hex or
32 base32 digits): a magnet's metadata is fetched from peers first (its
trackers and x.pe peers, --peer). --save-torrent FILE writes the .torrent once
it is known; --metadata-only stops there.

--only and --skip select files by glob (matched against each file's path
inside the torrent and against its base name; repeatable): skipped files are
not created. Progress is shown on stderr (a live bar per torrent and a total
on a terminal), or printed as JSON lines on stdout with --json. The command
exits 0 once every wanted piece of every torrent is verified and written, or
keeps seeding with --seed until interrupted. Ctrl-C stops cleanly (trackers
told, files synced, resume data written to --data-dir); run it again to go
on at once, without rehashing what was verified.

Web seeds (BEP 19) in a torrent's url-list, and those given with --web-seed,
are used beside peers while pieces are missing: a torrent downloads from them
with no peer and no tracker at all. The progress shows their share apart.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var srcs []source
			for _, a := range args {
				src, err := loadSource(a)
				if err != nil {
					return err
				}
				srcs = append(srcs, src)
			}
			if saveTorrent != "" && len(srcs) != 1 {
				return badInput(errors.New("--save-torrent takes one torrent"))
			}
			if metadataOnly && (saveTorrent == "" || srcs[0].magnet == "") {
				return badInput(errors.New("--metadata-only needs one magnet link and --save-torrent FILE"))
			}
			tr, err := tf.check()
			if err != nil {
				return badInput(err)
			}
			if err := sel.check(); err != nil {
				return badInput(err)
			}
			for _, w := range webSeeds {
				if err := webseed.CheckURL(w); err != nil {
					return badInput(fmt.Errorf("--web-seed %q: %w", w, err))
				}
			}
			if err := checkWritableDir(out); err != nil {
				return badInput(err)
			}
			stderr := cmd.ErrOrStderr()
			tr.cfg.DownloadDir = out
			tr.cfg.NoAutoStart = true // only the torrents named here run
			tr.cfg.Logger = cliLogger(stderr, tf.verbose)
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			c, cleanup, err := startClient(ctx, tr.cfg, cmd.Flags().Changed("port"), stderr)
			if err != nil {
				return err
			}
			defer cleanup()
			var ts []*client.Torrent
			for _, src := range srcs {
				spec := client.Spec{Torrent: src.mi, Magnet: src.magnet, Dir: out, MetadataOnly: metadataOnly, WebSeeds: webSeeds,
					Select: func(info *metainfo.Info) []client.Priority { return sel.priorities(info) }}
				t, err := addForDownload(ctx, c, spec)
				if err != nil {
					c.Shutdown(context.Background())
					return err
				}
				t.AddPeers(tr.peers...)
				ts = append(ts, t)
				if src.mi != nil && len(src.mi.Trackers()) == 0 && len(tr.peers) == 0 && len(src.mi.URLList)+len(webSeeds) == 0 && !tf.json {
					fmt.Fprintf(stderr, "%s: no trackers and no --peer: %s; listening on %v\n", src.mi.Info.Name, tf.net.searching(), c.Addr())
				}
			}
			if saveTorrent != "" {
				if err := saveWhenKnown(ctx, ts[0], saveTorrent, stderr); err != nil || metadataOnly {
					c.Shutdown(context.Background())
					return err
				}
			}
			return follow(ctx, c, ts, seed, tf.json, cmd.OutOrStdout(), stderr)
		},
	}
	tf.register(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", ".", "directory to download into")
	cmd.Flags().StringArrayVar(&sel.only, "only", nil, "download only the files matching this glob (repeatable)")
	cmd.Flags().StringArrayVar(&sel.skip, "skip", nil, "do not download the files matching this glob (repeatable)")
	cmd.Flags().BoolVar(&seed, "seed", false, "keep seeding after the downloads complete, until interrupted")
	cmd.Flags().StringVar(&saveTorrent, "save-torrent", "", "write the torrent's .torrent file here once its metadata is known")
	cmd.Flags().BoolVar(&metadataOnly, "metadata-only", false, "fetch a magnet's metadata only (with --save-torrent), no data")
	cmd.Flags().StringArrayVar(&webSeeds, "web-seed", nil, "also download from this web seed URL (BEP 19; repeatable, for every torrent given)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	cmd.Flags().MarkHidden("cpuprofile")
	return cmd
}

// addForDownload adds a torrent to the client for download into
// spec.Dir. A torrent the resume store already has is taken as it is when it
// is in that directory (its file priorities set to spec's selection, resumed
// if paused); one recorded for another directory is moved there (the record
// is forgotten, the old data kept).
func addForDownload(ctx context.Context, c *client.Client, spec client.Spec) (*client.Torrent, error) {
	t, err := c.Add(ctx, spec)
	if err == nil || !errors.Is(err, client.ErrExists) {
		return t, err
	}
	abs, _ := filepath.Abs(spec.Dir)
	if t.Dir() != abs {
		if err := c.Remove(ctx, t.InfoHash(), client.KeepData); err != nil {
			return nil, err
		}
		return c.Add(ctx, spec)
	}
	if err := t.AddWebSeeds(spec.WebSeeds...); err != nil {
		return nil, err
	}
	var prios []client.Priority
	if mi := t.MetaInfo(); mi != nil && spec.Select != nil {
		prios = spec.Select(&mi.Info)
	}
	for _, f := range t.Files() {
		want := client.Normal
		if prios != nil {
			want = prios[f.Index]
		}
		if f.Priority != want && (want == client.Skip || f.Priority == client.Skip) {
			if err := t.SetFilePriority(f.Index, want); err != nil {
				return nil, err
			}
		}
	}
	return t, t.Resume(ctx)
}

// follow shows progress until every torrent completes (and then, with
// seed, until ctx ends), then shuts the client down.
func follow(ctx context.Context, c *client.Client, ts []*client.Torrent, seed, asJSON bool, stdout, stderr io.Writer) error {
	pr := newProgress(stdout, stderr, asJSON, ts)
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	done := make(chan error, len(ts))
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, t := range ts {
		go func() { done <- t.Await(actx) }()
	}
	left := len(ts)
	for {
		select {
		case <-ticker.C:
			pr.show(false)
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				pr.show(true)
				pr.finish(false)
				return stopClient(c, ts, err)
			}
			if err != nil {
				continue // interrupted: ctx.Done() handles it
			}
			if left--; left > 0 {
				continue
			}
			pr.show(true)
			pr.finish(true)
			pr.note("complete: every piece verified")
			if seed {
				pr.note(fmt.Sprintf("seeding on %v; Ctrl-C to stop", c.Addr()))
				<-ctx.Done()
			}
			return stopClient(c, ts, nil)
		case <-ctx.Done():
			pr.show(true)
			pr.finish(false)
			return stopClient(c, ts, nil)
		}
	}
}

// stopClient shuts the client down; a download interrupted before every
// wanted piece was verified is an error.
func stopClient(c *client.Client, ts []*client.Torrent, failed error) error {
	complete := true
	for _, t := range ts {
		if st := t.Stats(); st.State != client.Seeding {
			complete = false
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := c.Shutdown(sctx)
	switch {
	case failed != nil:
		return failed
	case err != nil && !errors.Is(err, context.DeadlineExceeded):
		return err
	case !complete:
		return errors.New("interrupted before the download completed (run again to resume)")
	}
	return nil
}

// saveWhenKnown writes t's .torrent to path once its metadata is known.
func saveWhenKnown(ctx context.Context, t *client.Torrent, path string, stderr io.Writer) error {
	select {
	case <-t.InfoReady():
	case <-ctx.Done():
		return errors.New("interrupted before the metadata arrived")
	}
	b, err := t.MetaInfo().Encode()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s: torrent written to %s\n", t.Name(), path)
	return nil
}

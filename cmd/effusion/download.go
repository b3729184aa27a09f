package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/internal/units"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/session"
	"github.com/spf13/cobra"
)

// transferFlags are the flags download and seed share.
type transferFlags struct {
	bind     string
	port     int
	peers    []string
	maxPeers int
	dlRate   string
	ulRate   string
	json     bool
}

func (f *transferFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.port, "port", 6881, "TCP port to accept peers on (0 picks a free one)")
	fl.StringVar(&f.bind, "bind", "", "IP address to accept peers on, e.g. 127.0.0.1 (empty: every interface)")
	fl.StringArrayVar(&f.peers, "peer", nil, "peer HOST:PORT to connect to (repeatable; works without a tracker)")
	fl.IntVar(&f.maxPeers, "max-peers", session.DefaultMaxPeers, "most peers connected at once")
	fl.StringVar(&f.dlRate, "download-rate", "", "download limit in bytes/s (suffixes k, M, G; empty: unlimited)")
	fl.StringVar(&f.ulRate, "upload-rate", "", "upload limit in bytes/s (suffixes k, M, G; empty: unlimited)")
	fl.BoolVar(&f.json, "json", false, "print progress as JSON lines on stdout")
}

// config builds the session configuration the flags describe.
func (f *transferFlags) config(mi *metainfo.MetaInfo, dir string) (session.Config, error) {
	cfg := session.Config{
		Torrent:    mi,
		Dir:        dir,
		ListenAddr: net.JoinHostPort(f.bind, strconv.Itoa(f.port)),
		MaxPeers:   f.maxPeers,
	}
	if f.port < 0 || f.port > 65535 {
		return cfg, fmt.Errorf("--port %d: not a port", f.port)
	}
	if f.maxPeers < 1 {
		return cfg, fmt.Errorf("--max-peers %d: must be at least 1", f.maxPeers)
	}
	if ip, err := netip.ParseAddr(f.bind); f.bind != "" && (err != nil || ip.Zone() != "") {
		return cfg, fmt.Errorf("--bind %q: not an IP address", f.bind)
	}
	for _, p := range f.peers {
		ap, err := resolvePeer(p)
		if err == nil {
			err = checkPeerAddr(ap)
		}
		if err != nil {
			return cfg, fmt.Errorf("--peer %q: %w", p, err)
		}
		cfg.Peers = append(cfg.Peers, ap)
	}
	var err error
	if cfg.DownloadRate, err = parseRate(f.dlRate); err != nil {
		return cfg, fmt.Errorf("--download-rate: %w", err)
	}
	if cfg.UploadRate, err = parseRate(f.ulRate); err != nil {
		return cfg, fmt.Errorf("--upload-rate: %w", err)
	}
	return cfg, nil
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

func newDownloadCmd() *cobra.Command {
	var (
		tf         transferFlags
		out        string
		seed       bool
		verbose    bool
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "download FILE.torrent",
		Short: "Download a torrent; exit 0 once every piece is verified on disk",
		Long: `Download a torrent into a directory, verifying every piece.

Progress (percent, rates, ETA, peers) is shown on stderr, or printed as JSON
lines on stdout with --json. The command exits 0 once every piece is verified
and written, or keeps seeding with --seed until interrupted. Ctrl-C stops
cleanly (trackers told, files synced); run it again over the same directory to
keep every verified piece and fetch only the rest.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mi, err := loadTorrent(args[0])
			if err != nil {
				return err
			}
			cfg, err := tf.config(mi, out)
			if err != nil {
				return badInput(err)
			}
			if err := checkWritableDir(out); err != nil {
				return badInput(err)
			}
			cfg.Seed = seed
			cfg.Logger = cliLogger(cmd.ErrOrStderr(), verbose)
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
			return runTransfer(ctx, cfg, cmd.Flags().Changed("port"), tf.json, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	tf.register(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", ".", "directory to download into")
	cmd.Flags().BoolVar(&seed, "seed", false, "keep seeding after the download completes, until interrupted")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log peer and tracker events")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	cmd.Flags().MarkHidden("cpuprofile")
	return cmd
}

// startSession starts the session; when the default port is taken it
// falls back to a free one (an explicit --port is never changed).
func startSession(ctx context.Context, cfg session.Config, portSet bool) (*session.Session, error) {
	sess, err := session.Start(ctx, cfg)
	if err != nil && !portSet && errors.Is(err, syscall.EADDRINUSE) {
		host, _, _ := net.SplitHostPort(cfg.ListenAddr) // keep --bind
		cfg.ListenAddr = net.JoinHostPort(host, "0")
		sess, err = session.Start(ctx, cfg)
	}
	return sess, err
}

// runTransfer runs one session with live progress until it completes (and
// then, with cfg.Seed, until ctx ends).
func runTransfer(ctx context.Context, cfg session.Config, portSet, asJSON bool, stdout, stderr io.Writer) error {
	sess, err := startSession(ctx, cfg, portSet)
	if err != nil {
		return err
	}
	if len(cfg.Torrent.Trackers()) == 0 && len(cfg.Peers) == 0 && !asJSON {
		fmt.Fprintf(stderr, "no trackers and no --peer: waiting for peers to connect on %v\n", sess.Addr())
	}
	return followSession(ctx, sess, cfg.Seed, asJSON, stdout, stderr)
}

// followSession shows progress until the session completes or ctx ends,
// then stops it.
func followSession(ctx context.Context, sess *session.Session, seed, asJSON bool, stdout, stderr io.Writer) error {
	pr := newDLProgress(stdout, stderr, asJSON)
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	done := make(chan error, 1)
	go func() { done <- sess.Await(ctx) }()
	completed := false
	for {
		select {
		case <-ticker.C:
			pr.show(sess.Stats(), false)
		case err := <-done:
			done = nil
			if err != nil && ctx.Err() == nil {
				pr.show(sess.Stats(), true)
				return err
			}
			if err == nil {
				completed = true
				if st := sess.Stats(); st.Downloaded > 0 {
					pr.show(st, true)
					pr.note("complete: every piece verified")
					if seed {
						pr.note(fmt.Sprintf("seeding on %v; Ctrl-C to stop", sess.Addr()))
					}
				}
				if seed {
					continue
				}
			}
			return stopSession(sess, completed)
		case <-ctx.Done():
			pr.show(sess.Stats(), true)
			return stopSession(sess, completed || seed && sess.Stats().Left == 0)
		}
	}
}

// stopSession stops the session; an interrupted download is an error.
func stopSession(sess *session.Session, completed bool) error {
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := sess.Stop(sctx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if !completed {
		return errors.New("interrupted before the download completed (run again to resume)")
	}
	return nil
}

// dlProgress renders Stats: one refreshed line on a terminal, a line every
// few seconds otherwise, or JSON lines.
type dlProgress struct {
	stdout, stderr io.Writer
	json           bool
	tty            bool
	last           time.Time
}

func newDLProgress(stdout, stderr io.Writer, asJSON bool) *dlProgress {
	p := &dlProgress{stdout: stdout, stderr: stderr, json: asJSON}
	if f, ok := stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// jsonStats is one --json line.
type jsonStats struct {
	Time         string  `json:"time"`
	Phase        string  `json:"phase"`
	Percent      float64 `json:"percent"`
	PiecesHave   int     `json:"pieces_have"`
	PiecesTotal  int     `json:"pieces_total"`
	Left         int64   `json:"left"`
	Downloaded   int64   `json:"downloaded"`
	Uploaded     int64   `json:"uploaded"`
	DownloadRate float64 `json:"download_rate"`
	UploadRate   float64 `json:"upload_rate"`
	ETASeconds   float64 `json:"eta_seconds,omitempty"`
	Peers        int     `json:"peers"`
}

func (p *dlProgress) show(st session.Stats, final bool) {
	pct := 100.0
	if st.Length > 0 {
		pct = 100 * float64(st.Length-st.Left) / float64(st.Length)
	}
	var eta time.Duration
	if st.DownloadRate > 0 && st.Left > 0 {
		eta = time.Duration(float64(st.Left) / st.DownloadRate * float64(time.Second))
	}
	if p.json {
		json.NewEncoder(p.stdout).Encode(jsonStats{
			Time: time.Now().UTC().Format(time.RFC3339), Phase: st.Phase.String(), Percent: pct,
			PiecesHave: st.PiecesHave, PiecesTotal: st.PiecesTotal, Left: st.Left,
			Downloaded: st.Downloaded, Uploaded: st.Uploaded,
			DownloadRate: st.DownloadRate, UploadRate: st.UploadRate,
			ETASeconds: eta.Seconds(), Peers: st.Peers,
		})
		return
	}
	line := fmt.Sprintf("%-11s %6.2f%%  %d/%d pieces  down %s/s  up %s/s  ETA %s  peers %d",
		st.Phase, pct, st.PiecesHave, st.PiecesTotal, units.FormatFloat(st.DownloadRate), units.FormatFloat(st.UploadRate),
		fmtETA(eta, st.Left), st.Peers)
	switch {
	case p.tty:
		fmt.Fprintf(p.stderr, "\r\033[K%s", line)
		if final {
			fmt.Fprintln(p.stderr)
		}
	case final || time.Since(p.last) >= 5*time.Second:
		p.last = time.Now()
		fmt.Fprintln(p.stderr, line)
	}
}

func (p *dlProgress) note(msg string) {
	if p.json {
		return
	}
	fmt.Fprintln(p.stderr, msg)
}

func fmtETA(d time.Duration, left int64) string {
	switch {
	case left == 0:
		return "done"
	case d <= 0:
		return "--"
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

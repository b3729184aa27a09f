package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"strconv"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/internal/units"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/streamhttp"
	"github.com/spf13/cobra"
)

// streamFlags are stream's own flags.
type streamFlags struct {
	file     int
	fileName string
	listen   string
	out      string
	all      bool
}

func newStreamCmd() *cobra.Command {
	var (
		tf transferFlags
		sf streamFlags
	)
	cmd := &cobra.Command{
		Use:   "stream FILE.torrent|MAGNET|INFOHASH",
		Short: "Serve a file over HTTP while it downloads, for a video player",
		Long: `Download a torrent's file and serve it over HTTP as it arrives: the command
prints a URL that a player (mpv, VLC, a browser) opens, and answers its Range
requests with the bytes verified so far, fetching first the pieces the player
reads (a seek moves them at once).

The file is the torrent's largest, or the one --file N (its index, as
"effusion info" lists them) or --file-name GLOB (matched against each file's
path inside the torrent and its base name; the largest match) names. The
torrent's other files are skipped unless --all. A magnet's metadata is fetched
from peers first (its trackers and x.pe peers, --peer); the URL is printed
once the file is known.

The server listens on --listen (127.0.0.1 and a free port by default: only
this machine can reach it). Ctrl-C stops cleanly; what was downloaded stays in
-o DIR, and resume data in --data-dir, so that a second run goes on at once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStream(cmd, args[0], tf, sf)
		},
	}
	tf.register(cmd)
	fl := cmd.Flags()
	fl.IntVar(&sf.file, "file", -1, "index of the file to stream (default: the largest)")
	fl.StringVar(&sf.fileName, "file-name", "", "stream the largest file matching this glob")
	fl.StringVar(&sf.listen, "listen", "127.0.0.1:0", "HOST:PORT the HTTP server listens on (port 0 picks a free one)")
	fl.StringVarP(&sf.out, "output", "o", ".", "directory to download into")
	fl.BoolVar(&sf.all, "all", false, "download the torrent's other files too")
	return cmd
}

// check validates stream's own flags.
func (sf streamFlags) check(fileSet bool) error {
	if fileSet && sf.fileName != "" {
		return errors.New("--file and --file-name exclude each other")
	}
	if fileSet && sf.file < 0 {
		return fmt.Errorf("--file %d: not a file index", sf.file)
	}
	if _, err := path.Match(sf.fileName, ""); err != nil {
		return fmt.Errorf("--file-name %q: %w", sf.fileName, err)
	}
	host, port, err := net.SplitHostPort(sf.listen)
	if err != nil {
		return fmt.Errorf("--listen %q: not HOST:PORT", sf.listen)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p > 65535 {
		return fmt.Errorf("--listen %q: bad port", sf.listen)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return fmt.Errorf("--listen %q: not an IP address", sf.listen)
	}
	return nil
}

// pick returns the index of the file to stream: --file, the largest match
// of --file-name, or the largest file.
func (sf streamFlags) pick(info *metainfo.Info) (int, error) {
	if sf.file >= 0 {
		if sf.file >= len(info.Files) || info.Files[sf.file].Padding {
			return 0, fmt.Errorf("--file %d: %s has no such file (see effusion info)", sf.file, info.Name)
		}
		return sf.file, nil
	}
	best := -1
	for i, f := range info.Files {
		if f.Padding || len(f.SymlinkPath) > 0 {
			continue
		}
		if sf.fileName != "" && !matchAny([]string{sf.fileName}, innerPath(info, i)) {
			continue
		}
		if best < 0 || f.Length > info.Files[best].Length {
			best = i
		}
	}
	if best < 0 {
		if sf.fileName != "" {
			return 0, fmt.Errorf("--file-name %q: no file of %s matches", sf.fileName, info.Name)
		}
		return 0, fmt.Errorf("%s has no file to stream", info.Name)
	}
	return best, nil
}

// innerPath is file i's path inside the torrent (without the torrent's
// directory).
func innerPath(info *metainfo.Info, i int) string {
	f := info.Files[i]
	if info.MultiFile && len(f.Path) > 1 {
		return path.Join(f.Path[1:]...)
	}
	return path.Join(f.Path...)
}

// priorities skips every file but the streamed one (nil with --all; all
// skipped when there is none to stream: the command is about to exit).
func (sf streamFlags) priorities(info *metainfo.Info) []client.Priority {
	if sf.all {
		return nil
	}
	keep, err := sf.pick(info)
	out := make([]client.Priority, len(info.Files))
	for i := range out {
		if err != nil || i != keep {
			out[i] = client.Skip
		}
	}
	return out
}

func runStream(cmd *cobra.Command, arg string, tf transferFlags, sf streamFlags) error {
	src, err := loadSource(arg)
	if err != nil {
		return err
	}
	if err := sf.check(cmd.Flags().Changed("file")); err != nil {
		return badInput(err)
	}
	if src.mi != nil {
		if _, err := sf.pick(&src.mi.Info); err != nil {
			return badInput(err)
		}
	}
	tr, err := tf.check()
	if err != nil {
		return badInput(err)
	}
	if err := checkWritableDir(sf.out); err != nil {
		return badInput(err)
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	ln, err := net.Listen("tcp", sf.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer ln.Close()
	tr.cfg.DownloadDir = sf.out
	tr.cfg.Logger = cliLogger(stderr, tf.verbose)
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, cleanup, err := startClient(ctx, tr.cfg, cmd.Flags().Changed("port"), stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	shutdown := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		c.Shutdown(sctx)
	}
	spec := client.Spec{Torrent: src.mi, Magnet: src.magnet, Dir: sf.out, Select: sf.priorities}
	t, err := addForDownload(ctx, c, spec)
	if err != nil {
		shutdown()
		return err
	}
	t.AddPeers(tr.peers...)
	if src.mi == nil {
		fmt.Fprintf(stderr, "%s: fetching the metadata from peers ...\n", t.Name())
	}
	select {
	case <-t.InfoReady():
	case <-ctx.Done():
		shutdown()
		return errors.New("interrupted before the metadata arrived")
	}
	info := &t.MetaInfo().Info
	idx, err := sf.pick(info)
	if err != nil {
		shutdown()
		return badInput(err)
	}
	// A player asks for the file's start first: a reader there from now on
	// has its first pieces requested from the first peers, before the
	// player's request arrives (a magnet's peers are put to work as soon as
	// its metadata is in). Once they are verified its window holds nothing.
	primer, err := t.NewReader(idx)
	if err != nil {
		shutdown()
		return err
	}
	primed := make(chan struct{})
	go func() {
		defer close(primed)
		primer.ReadContext(ctx, make([]byte, 1))
	}()
	defer func() { primer.Close(); <-primed }()
	f := info.Files[idx]
	name := f.Path[len(f.Path)-1]
	filePath := streamhttp.Path(t.InfoHash(), idx, name)
	mux := http.NewServeMux()
	mux.Handle(streamhttp.Prefix, streamhttp.Handler(c))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, filePath, http.StatusFound)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + urlHost(ln.Addr()) + filePath
	fmt.Fprintln(stdout, url)
	fmt.Fprintf(stderr, "streaming %s (%s) at %s; Ctrl-C to stop\n", innerPath(info, idx), units.Format(f.Length), url)
	failed := make(chan error, 1)
	go func() {
		if err := t.Await(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, client.ErrClosed) {
			failed <- err
		}
	}()
	pr := newProgress(stdout, stderr, tf.json, []*client.Torrent{t})
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	var result error
wait:
	for {
		select {
		case <-ticker.C:
			pr.show(false)
		case <-ctx.Done():
			break wait
		case err := <-served:
			result = fmt.Errorf("HTTP server: %w", err)
			break wait
		case err := <-failed:
			result = err
			break wait
		}
	}
	pr.show(true)
	pr.finish(t.Stats().Left == 0)
	// Players keep their connections open: give the server a moment, then
	// close them (their reads end with the client's shutdown anyway).
	hctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if srv.Shutdown(hctx) != nil {
		srv.Close()
	}
	cancel()
	shutdown()
	return result
}

// urlHost is addr as a URL's host: 127.0.0.1:8080, [::1]:8080; an
// unspecified address (listening everywhere) shows as the loopback one.
func urlHost(addr net.Addr) string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := ta.IP
	if ip.IsUnspecified() {
		if ip.To4() != nil {
			ip = net.IPv4(127, 0, 0, 1)
		} else {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/daemon"
	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/session"
	"github.com/spf13/cobra"
)

// passwordEnv is where the RPC password may come from instead of a file.
const passwordEnv = "EFFUSION_RPC_PASSWORD"

type daemonFlags struct {
	dataDir      string
	downloadDir  string
	port         int
	bind         string
	rpcListen    string
	rpcUser      string
	passwordFile string
	rpcHosts     []string
	fetchAllow   []string
	maxPeers     int
	encryption   mse.Policy
	logFormat    string
	verbose      bool
	resetResume  bool
	shutdownWait time.Duration
	buffered     bool
	net          netFlags
}

func newDaemonCmd() *cobra.Command {
	var f daemonFlags
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run torrents in the background, controlled over Transmission's RPC and a web UI",
		Long: `Run a long-lived client that keeps its torrents across restarts, controlled
remotely: Transmission's RPC at /transmission/rpc (transmission-remote and
the Transmission clients of Python, JavaScript and media managers work with
it), a web UI at /, every state machine live at /debug/processes, and
Prometheus metrics at /metrics.

The RPC listens on 127.0.0.1:9091 by default. A non-loopback --rpc-listen
needs --rpc-user with a password from --rpc-password-file or the
` + passwordEnv + ` environment variable (HTTP Basic). Host names other
than localhost and IP addresses must be allowed with --rpc-host.

SIGTERM or SIGINT stops it cleanly: trackers told, files synced, resume data
and settings written; a second signal stops it at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), f, cmd.ErrOrStderr(), cmd.Flags().Changed("encryption"))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "", "where resume data and settings are kept (default: $XDG_DATA_HOME/effusion or ~/.local/share/effusion)")
	fl.StringVar(&f.downloadDir, "download-dir", ".", "where torrents go when the RPC names no directory")
	fl.IntVar(&f.port, "port", 6881, "port to accept peers on, TCP and uTP (UDP, shared with the DHT); 0 picks a free one")
	fl.StringVar(&f.bind, "bind", "", "IP address to accept peers on (empty: every interface)")
	fl.StringVar(&f.rpcListen, "rpc-listen", daemon.DefaultListen, "address of the RPC, web UI, processes view and metrics")
	fl.StringVar(&f.rpcUser, "rpc-user", "", "user name required of RPC clients (HTTP Basic)")
	fl.StringVar(&f.passwordFile, "rpc-password-file", "", "file holding the RPC password (else $"+passwordEnv+")")
	fl.StringArrayVar(&f.rpcHosts, "rpc-host", nil, "host name accepted in the Host header besides localhost and IP addresses (repeatable)")
	fl.StringArrayVar(&f.fetchAllow, "rpc-fetch-allow", nil, "host whose http(s) .torrent URLs torrent-add may fetch (repeatable; default none)")
	fl.Var(&f.encryption, "encryption", "message stream encryption: prefer, require or off (default: as last set over the RPC, else prefer)")
	fl.IntVar(&f.maxPeers, "max-peers", client.DefaultMaxPeersPerTorrent, "most peers connected at once, per torrent")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text or json")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log debug messages too")
	fl.BoolVar(&f.resetResume, "reset-resume", false, "set an unreadable resume store aside and start afresh (downloaded data is kept)")
	fl.DurationVar(&f.shutdownWait, "shutdown-timeout", 30*time.Second, "longest a clean stop may take")
	fl.BoolVar(&f.buffered, "buffered-writes", false, bufferedWritesUsage)
	f.net.register(fl)
	return cmd
}

// daemonLogger logs to w as text or JSON lines.
func daemonLogger(w io.Writer, format string, verbose bool) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if verbose {
		opts.Level = slog.LevelDebug
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// rpcPassword reads the password from the file (its first line) or the
// environment.
func rpcPassword(file string) (string, error) {
	if file == "" {
		return os.Getenv(passwordEnv), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--rpc-password-file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(pw, "\r"), nil
}

func resolveDataDir(d string) (string, error) {
	if d == "" {
		return client.DefaultDataDir()
	}
	if d == "~" || strings.HasPrefix(d, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		d = filepath.Join(home, strings.TrimPrefix(d, "~"))
	}
	return filepath.Abs(d)
}

func runDaemon(ctx context.Context, f daemonFlags, stderr io.Writer, encryptionSet bool) error {
	log, err := daemonLogger(stderr, f.logFormat, f.verbose)
	if err != nil {
		return badInput(err)
	}
	if f.port < 0 || f.port > 65535 {
		return badInput(fmt.Errorf("--port %d: not a port", f.port))
	}
	if f.maxPeers < 1 {
		return badInput(fmt.Errorf("--max-peers %d: must be at least 1", f.maxPeers))
	}
	var netCfg client.Config
	if err := f.net.apply(&netCfg); err != nil {
		return badInput(err)
	}
	password, err := rpcPassword(f.passwordFile)
	if err != nil {
		return badInput(err)
	}
	if f.rpcUser != "" && password == "" {
		return badInput(fmt.Errorf("--rpc-user %q needs a password: --rpc-password-file or $%s", f.rpcUser, passwordEnv))
	}
	dataDir, err := resolveDataDir(f.dataDir)
	if err != nil {
		return badInput(fmt.Errorf("--data-dir: %w", err))
	}
	if err := checkWritableDir(f.downloadDir); err != nil {
		return badInput(err)
	}
	if err := daemon.CheckListen(f.rpcListen, f.rpcUser != ""); err != nil {
		return badInput(err)
	}
	rpcLn, err := net.Listen("tcp", f.rpcListen)
	if err != nil {
		return fmt.Errorf("--rpc-listen: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := client.New(ctx, client.Config{
		DataDir:            dataDir,
		DownloadDir:        f.downloadDir,
		ListenAddr:         net.JoinHostPort(f.bind, strconv.Itoa(f.port)),
		MaxPeersPerTorrent: f.maxPeers,
		ResetResume:        f.resetResume,
		Encryption:         f.encryption,
		Logger:             log,
		Transport:          netCfg.Transport,
		NoDHT:              netCfg.NoDHT,
		DHTBootstrap:       netCfg.DHTBootstrap,
		NoLSD:              netCfg.NoLSD,
		BufferedWrites:     f.buffered,
	})
	if err != nil {
		rpcLn.Close()
		var se *client.StoreError
		if errors.As(err, &se) || errors.Is(err, client.ErrStoreInUse) {
			return badInput(err)
		}
		return err
	}
	var enc string
	if encryptionSet {
		enc = daemon.EncryptionName(f.encryption)
	}
	closeReq := make(chan struct{}, 1)
	d, err := daemon.New(daemon.Config{
		Client:             c,
		DataDir:            dataDir,
		DownloadDir:        f.downloadDir,
		Listen:             rpcLn.Addr().String(),
		User:               f.rpcUser,
		Password:           password,
		AllowedHosts:       f.rpcHosts,
		FetchAllow:         f.fetchAllow,
		MaxPeersPerTorrent: f.maxPeers,
		Encryption:         enc,
		OnClose:            func() { closeReq <- struct{}{} },
		Logger:             log,
		Version:            session.ClientVersion,
	})
	if err != nil {
		rpcLn.Close()
		c.Close()
		if errors.Is(err, daemon.ErrNeedAuth) {
			return badInput(err)
		}
		return err
	}
	served := make(chan error, 1)
	go func() { served <- d.Serve(rpcLn) }()
	log.Info("effusion daemon started", "rpc", "http://"+rpcLn.Addr().String()+"/transmission/rpc",
		"web", "http://"+rpcLn.Addr().String()+"/", "peers", c.Addr().String(), "data_dir", dataDir,
		"torrents", len(c.Torrents()))
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("stopping: signal received")
	case <-closeReq:
		log.Info("stopping: session-close")
	case serveErr = <-served:
		log.Error("the RPC server failed", "err", serveErr)
	}
	stop() // a second signal now ends the process at once
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownWait)
	defer cancel()
	if err := d.Shutdown(sctx); err != nil && !errors.Is(err, daemon.ErrClosed) {
		log.Error("stopping the RPC server", "err", err)
	}
	if err := c.Shutdown(sctx); err != nil {
		log.Error("stopping the torrents", "err", err)
		if serveErr == nil && !errors.Is(err, context.DeadlineExceeded) {
			serveErr = err
		}
	}
	log.Info("effusion daemon stopped")
	return serveErr
}

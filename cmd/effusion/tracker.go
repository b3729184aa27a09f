package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/effusion-bt/effusion/tracker/server"
)

func newTrackerCmd() *cobra.Command {
	var (
		listen, udp   string
		allow         string
		interval      time.Duration
		maxTorrents   int
		maxPerIP      int
		maxPeers      int
		maxPeersPerTr int
	)
	cmd := &cobra.Command{
		Use:   "tracker",
		Short: "Run a BitTorrent tracker (HTTP and UDP) until interrupted",
		Long: `Run a BitTorrent tracker: HTTP announce and scrape (BEP 3, 7, 23, 48) on --listen
and the UDP protocol (BEP 15) on the same address and port, or on --udp if given
(--udp "" turns UDP off). Peers that stop announcing are forgotten after two
intervals. Stops cleanly on SIGINT or SIGTERM.

--allow FILE serves only the info-hashes in FILE (40 hexadecimal digits per
line; blank lines and # comments allowed). SIGHUP reloads it; a file that does
not parse keeps the list in force, and the log says why.

Without --allow the tracker stays open to new torrents under a flood of made-up
info-hashes: one address (IPv4, or IPv6 /64) may create at most
--max-torrents-per-ip torrents, and when --max-torrents are tracked a new one
evicts the least recently announced torrent that has no seeder.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < time.Minute {
				return badInput(fmt.Errorf("--interval %v: must be at least 1m", interval))
			}
			for _, f := range []struct {
				name string
				v    int
			}{{"max-torrents", maxTorrents}, {"max-peers", maxPeers}, {"max-peers-per-torrent", maxPeersPerTr}, {"max-torrents-per-ip", maxPerIP}} {
				if f.v < 1 {
					return badInput(fmt.Errorf("--%s %d: must be at least 1", f.name, f.v))
				}
			}
			udpSame := !cmd.Flags().Changed("udp") && listen != ""
			if listen == "" && udp == "" {
				return badInput(fmt.Errorf("nothing to listen on: give --listen or --udp"))
			}
			var list [][20]byte
			if allow != "" {
				var err error
				if list, err = server.LoadAllowList(allow); err != nil {
					return badInput(fmt.Errorf("--allow: %w", err))
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// SIGHUP is caught before anything says the list is loaded: a
			// reload asked for right after must not kill the process.
			hup := make(chan os.Signal, 1)
			if allow != "" {
				signal.Notify(hup, syscall.SIGHUP)
				defer signal.Stop(hup)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			srv, err := server.Start(ctx, server.Config{
				HTTPAddr: listen, UDPAddr: udp, UDPOnHTTPAddr: udpSame, Interval: interval,
				MaxTorrents: maxTorrents, MaxTorrentsPerIP: maxPerIP, MaxPeers: maxPeers,
				MaxPeersPerTorrent: maxPeersPerTr, AllowList: list, Logger: log,
			})
			if err != nil {
				return err
			}
			if allow != "" {
				log.Info("allow-list loaded", "file", allow, "torrents", len(list))
			}
			if u := srv.AnnounceURL(); u != "" {
				fmt.Fprintln(cmd.OutOrStdout(), "announce:", u)
				fmt.Fprintln(cmd.OutOrStdout(), "scrape:  ", srv.ScrapeURL())
			}
			if u := srv.UDPAnnounceURL(); u != "" {
				fmt.Fprintln(cmd.OutOrStdout(), "udp:     ", u)
			}
			for ctx.Err() == nil {
				select {
				case <-ctx.Done():
				case <-hup:
					reloadAllowList(srv, allow, log)
				}
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:6969", "HTTP listen address (empty: no HTTP); UDP listens on it too unless --udp is given")
	f.StringVar(&udp, "udp", "", "UDP listen address (default: the --listen address; empty: no UDP)")
	f.StringVar(&allow, "allow", "", "serve only the info-hashes listed in this file (hex, one per line; reloaded on SIGHUP)")
	f.DurationVar(&interval, "interval", 30*time.Minute, "announce interval told to clients")
	f.IntVar(&maxTorrents, "max-torrents", 10000, "most torrents tracked")
	f.IntVar(&maxPerIP, "max-torrents-per-ip", 100, "most torrents one address (IPv4, IPv6 /64) may create")
	f.IntVar(&maxPeers, "max-peers", 200000, "most peers tracked over all torrents")
	f.IntVar(&maxPeersPerTr, "max-peers-per-torrent", 5000, "most peers tracked in one torrent")
	return cmd
}

// reloadAllowList replaces the server's allow-list with the file's; a
// file that does not load leaves the list in force.
func reloadAllowList(srv *server.Server, path string, log *slog.Logger) {
	list, err := server.LoadAllowList(path)
	if err != nil {
		log.Error("allow-list not reloaded; keeping the previous one", "err", err)
		return
	}
	srv.SetAllowList(list)
	log.Info("allow-list reloaded", "file", path, "torrents", len(list))
}

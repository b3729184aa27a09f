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

func init() { rootCmd.AddCommand(newTrackerCmd()) }

func newTrackerCmd() *cobra.Command {
	var (
		listen, udp string
		interval    time.Duration
		maxTorrents int
		maxPeers    int
	)
	cmd := &cobra.Command{
		Use:   "tracker",
		Short: "Run a BitTorrent tracker (HTTP and UDP) until interrupted",
		Long: `Run a BitTorrent tracker: HTTP announce and scrape (BEP 3, 7, 23, 48) on --listen
and the UDP protocol (BEP 15) on --udp. Peers that stop announcing are forgotten
after two intervals. Stops cleanly on SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < time.Minute {
				return badInput(fmt.Errorf("--interval %v: must be at least 1m", interval))
			}
			if listen == "" && udp == "" {
				return badInput(fmt.Errorf("nothing to listen on: give --listen or --udp"))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			srv, err := server.Start(ctx, server.Config{
				HTTPAddr: listen, UDPAddr: udp, Interval: interval,
				MaxTorrents: maxTorrents, MaxPeers: maxPeers, Logger: log,
			})
			if err != nil {
				return err
			}
			if u := srv.AnnounceURL(); u != "" {
				fmt.Fprintln(cmd.OutOrStdout(), "announce:", u)
				fmt.Fprintln(cmd.OutOrStdout(), "scrape:  ", srv.ScrapeURL())
			}
			if u := srv.UDPAnnounceURL(); u != "" {
				fmt.Fprintln(cmd.OutOrStdout(), "udp:     ", u)
			}
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:6969", "HTTP listen address (empty: no HTTP)")
	f.StringVar(&udp, "udp", "127.0.0.1:6969", "UDP listen address (empty: no UDP)")
	f.DurationVar(&interval, "interval", 30*time.Minute, "announce interval told to clients")
	f.IntVar(&maxTorrents, "max-torrents", 10000, "most torrents tracked")
	f.IntVar(&maxPeers, "max-peers", 200000, "most peers tracked over all torrents")
	return cmd
}

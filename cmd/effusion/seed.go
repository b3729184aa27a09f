package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func newSeedCmd() *cobra.Command {
	var (
		tf      transferFlags
		dir     string
		partial bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "seed FILE.torrent -d DIR",
		Short: "Check a torrent's data and seed it",
		Long: `Check the data of a torrent under DIR, then seed it until interrupted.

If pieces are missing or corrupt, seed says how many verified and exits with
status 2, unless --partial asks it to seed what it has and fetch the rest.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mi, err := loadTorrent(args[0])
			if err != nil {
				return err
			}
			if dir == "" {
				return badInput(fmt.Errorf("-d DIR is required"))
			}
			cfg, err := tf.config(mi, dir)
			if err != nil {
				return badInput(err)
			}
			cfg.Seed = true
			cfg.Logger = cliLogger(cmd.ErrOrStderr(), verbose)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			stderr := cmd.ErrOrStderr()
			fmt.Fprintf(stderr, "checking %s ...\n", mi.Info.Name)
			sess, err := startSession(ctx, cfg, cmd.Flags().Changed("port"))
			if err != nil {
				return err
			}
			have, total, err := sess.Checked(ctx)
			if err != nil {
				stopSession(sess, true)
				return err
			}
			fmt.Fprintf(stderr, "%d of %d pieces verified\n", have, total)
			if have < total && !partial {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				sess.Stop(sctx)
				return badInput(fmt.Errorf("%d of %d pieces missing or corrupt under %s (use --partial to seed what is there and fetch the rest)",
					total-have, total, dir))
			}
			if have < total {
				fmt.Fprintf(stderr, "seeding %d pieces and fetching the other %d on %v; Ctrl-C to stop\n", have, total-have, sess.Addr())
			} else {
				fmt.Fprintf(stderr, "seeding on %v; Ctrl-C to stop\n", sess.Addr())
			}
			return followSession(ctx, sess, true, tf.json, cmd.OutOrStdout(), stderr)
		},
	}
	tf.register(cmd)
	cmd.Flags().StringVarP(&dir, "dir", "d", "", "directory holding the torrent's data (required)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log peer and tracker events")
	cmd.Flags().BoolVar(&partial, "partial", false, "seed what verifies and download the rest instead of failing")
	return cmd
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/spf13/cobra"
)

func newSeedCmd() *cobra.Command {
	var (
		tf      transferFlags
		dir     string
		partial bool
	)
	cmd := &cobra.Command{
		Use:   "seed FILE.torrent -d DIR",
		Short: "Check a torrent's data and seed it",
		Long: `Check the data of a torrent under DIR, then seed it until interrupted.

If pieces are missing or corrupt, seed says how many verified and exits with
status 2, unless --partial asks it to seed what it has and fetch the rest.
What was verified is kept in --data-dir: the next start does not rehash the
files that did not change.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := loadSource(args[0])
			if err != nil {
				return err
			}
			if dir == "" {
				return badInput(fmt.Errorf("-d DIR is required"))
			}
			tr, err := tf.check()
			if err != nil {
				return badInput(err)
			}
			stderr := cmd.ErrOrStderr()
			tr.cfg.Logger = cliLogger(stderr, tf.verbose)
			tr.cfg.NoAutoStart = true // only the torrent named here runs
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if src.mi == nil {
				return badInput(errors.New("seed needs a .torrent file (a magnet has no data to check)"))
			}
			mi := src.mi
			fmt.Fprintf(stderr, "checking %s ...\n", mi.Info.Name)
			c, cleanup, err := startClient(ctx, tr.cfg, cmd.Flags().Changed("port"), stderr)
			if err != nil {
				return err
			}
			defer cleanup()
			t, err := addForDownload(ctx, c, client.Spec{Torrent: mi, Dir: dir})
			if err != nil {
				c.Shutdown(context.Background())
				return err
			}
			t.AddPeers(tr.peers...)
			st, err := checked(ctx, t)
			if err != nil {
				c.Shutdown(context.Background())
				return err
			}
			fmt.Fprintf(stderr, "%d of %d pieces verified\n", st.PiecesHave, st.PiecesTotal)
			if st.PiecesHave < st.PiecesTotal && !partial {
				c.Shutdown(context.Background())
				return badInput(fmt.Errorf("%d of %d pieces missing or corrupt under %s (use --partial to seed what is there and fetch the rest)",
					st.PiecesTotal-st.PiecesHave, st.PiecesTotal, dir))
			}
			if st.PiecesHave < st.PiecesTotal {
				fmt.Fprintf(stderr, "seeding %d pieces and fetching the other %d on %v; Ctrl-C to stop\n", st.PiecesHave, st.PiecesTotal-st.PiecesHave, c.Addr())
			} else {
				fmt.Fprintf(stderr, "seeding on %v; Ctrl-C to stop\n", c.Addr())
			}
			return follow(ctx, c, []*client.Torrent{t}, true, tf.json, cmd.OutOrStdout(), stderr)
		},
	}
	tf.register(cmd)
	cmd.Flags().StringVarP(&dir, "dir", "d", "", "directory holding the torrent's data (required)")
	cmd.Flags().BoolVar(&partial, "partial", false, "seed what verifies and download the rest instead of failing")
	return cmd
}

// checked waits until a torrent's start-up check is over and returns its
// stats then.
func checked(ctx context.Context, t *client.Torrent) (client.Stats, error) {
	for {
		st := t.Stats()
		switch st.State {
		case client.Failed:
			return st, st.Err
		case client.Downloading, client.Seeding:
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8/cwriter"

	"github.com/effusion-bt/effusion/internal/swarm"
	"github.com/effusion-bt/effusion/internal/units"
)

func newSwarmCmd() *cobra.Command {
	var (
		size, pieceLen   string
		cfg              swarm.Config
		timeout          time.Duration
		verbose          bool
		cpuProf, memProf string
	)
	cmd := &cobra.Command{
		Use:   "swarm",
		Short: "Run a whole swarm on loopback: tracker, seeders, leechers, verified copies",
		Long: `Swarm makes a random payload, creates its torrent, starts the embedded tracker,
the seeder(s) and the leechers in this process (each on its own 127.0.0.1 port),
shows the leechers' progress, checks every copy byte for byte against the payload
and prints the time, throughput, CPU and memory it took. It exits 0 only if every
copy verifies.

With --dht the swarm is trackerless: a DHT of --dht-nodes nodes runs on
loopback, the seeders announce themselves on it, and the leechers start from a
magnet link holding only the info-hash: they find the seeders, the metadata
and each other through the DHT alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Size, err = units.Parse(size); err != nil {
				return badInput(fmt.Errorf("--size: %w", err))
			}
			if cfg.Size == 0 {
				return badInput(fmt.Errorf("--size: must be positive"))
			}
			if cfg.Size > maxSwarmSize {
				return badInput(fmt.Errorf("--size %s: more than the %s a demo swarm may move", size, units.Format(maxSwarmSize)))
			}
			if p := strings.TrimSpace(pieceLen); p != "" && p != "auto" {
				if cfg.PieceLength, err = units.Parse(p); err != nil {
					return badInput(fmt.Errorf("--piece-length: %w", err))
				}
				if cfg.PieceLength == 0 {
					return badInput(fmt.Errorf("--piece-length: must be positive or auto"))
				}
			}
			for _, f := range []struct {
				name string
				v    int
			}{{"files", cfg.Files}, {"leechers", cfg.Leechers}, {"seeders", cfg.Seeders}, {"dht-nodes", cfg.DHTNodes}} {
				if f.v < 1 {
					return badInput(fmt.Errorf("--%s: must be at least 1", f.name))
				}
			}
			if err := checkSwarmSpace(cfg); err != nil {
				return badInput(err)
			}
			stderr := cmd.ErrOrStderr()
			cfg.Progress = stderr
			if f, ok := stderr.(*os.File); ok {
				// Bars need a terminal with a size (a pty without one draws nothing).
				if w, h, err := cwriter.GetSize(int(f.Fd())); err == nil && w > 0 && h > 0 {
					cfg.Bars = true
				}
			}
			if verbose {
				cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
				cfg.Bars = false
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if cpuProf != "" {
				f, err := os.Create(cpuProf)
				if err != nil {
					return badInput(fmt.Errorf("--cpuprofile: %w", err))
				}
				defer f.Close()
				// Profile the transfer only, not the payload, torrent and check.
				cfg.OnTransferStart = func() {
					if err := pprof.StartCPUProfile(f); err != nil {
						fmt.Fprintln(stderr, "effusion: cpu profile:", err)
					}
				}
				cfg.OnTransferEnd = pprof.StopCPUProfile
			}
			res, err := swarm.Run(ctx, cfg)
			if errors.Is(err, swarm.ErrBadConfig) {
				return badInput(err)
			}
			if memProf != "" {
				if perr := writeHeapProfile(memProf); perr != nil && err == nil {
					err = perr
				}
			}
			if res != nil && res.Elapsed > 0 {
				if werr := res.WriteSummary(cmd.OutOrStdout()); werr != nil && err == nil {
					err = werr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&size, "size", "256MiB", "payload size (B, KiB, MiB, GiB; kB, MB, GB)")
	f.IntVar(&cfg.Files, "files", 1, "number of payload files (1: a single-file torrent)")
	f.StringVar(&pieceLen, "piece-length", "auto", "piece length (a power of two, at least 16KiB) or auto")
	f.IntVar(&cfg.Leechers, "leechers", swarm.DefaultLeechers, "leeching sessions")
	f.IntVar(&cfg.Seeders, "seeders", swarm.DefaultSeeders, "seeding sessions")
	f.StringVar(&cfg.Dir, "dir", "", "work directory (default: a new temporary directory)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the payload, the torrent and the copies")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	f.BoolVarP(&verbose, "verbose", "v", false, "log the sessions and the tracker to stderr (no bars)")
	f.StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of the transfer (leechers started to all complete) to this file")
	f.StringVar(&memProf, "memprofile", "", "write an allocation profile to this file at the end (go tool pprof)")
	f.BoolVar(&cfg.DHT, "dht", false, "trackerless: a loopback DHT instead of the tracker; leechers start from a bare magnet link")
	f.IntVar(&cfg.DHTNodes, "dht-nodes", swarm.DefaultDHTNodes, "nodes of the loopback DHT (with --dht)")
	return cmd
}

// writeHeapProfile writes the allocation profile (every allocation since the
// start, as go tool pprof -sample_index=alloc_space shows it).
func writeHeapProfile(path string) error {
	runtime.GC() // the profile shows allocations as of the last completed GC
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// maxSwarmSize bounds --size: the demo writes the payload and every
// leecher's copy, and checks each byte.
const maxSwarmSize = 1 << 40

// checkSwarmSpace refuses a swarm whose payload and copies (Size × (1 +
// Leechers)) do not fit in the free space of the file system that will hold
// them. Where free space cannot be read, it lets the run go ahead.
func checkSwarmSpace(cfg swarm.Config) error {
	dir := cfg.Dir
	if dir == "" {
		dir = os.TempDir()
	}
	need := cfg.Size * int64(1+max(cfg.Leechers, 1))
	free, at, ok := freeSpace(dir)
	if ok && uint64(need) > free {
		return fmt.Errorf("--size %s: the payload and %d copies need %s, and %s has %s free",
			units.Format(cfg.Size), max(cfg.Leechers, 1), units.Format(need), at, units.Format(int64(min(free, 1<<62))))
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/internal/units"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/tracker"
	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// createProgressMin is the size from which create shows a progress bar
// (smaller torrents hash in well under a second).
const createProgressMin = 64 << 20

type createFlags struct {
	output      string
	pieceLength string
	trackers    []string
	private     bool
	webSeeds    []string
	comment     string
	name        string
	source      string
	noDate      bool
	force       bool
}

func newCreateCmd() *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create PATH",
		Short: "Create a .torrent from a file or directory",
		Long: `Create a v1 .torrent from a file or a directory, hashing on all cores.

Files of a directory are listed in byte order of their paths, as mktorrent
does: for the same input, piece length and flags the info-hash is mktorrent's.
Each --tracker is one tier; several URLs in one flag, separated by commas,
share a tier. The .torrent is written atomically: nothing is left behind on
error. The info-hash and a magnet link are printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCreate(cmd, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "", "where to write the .torrent (default NAME.torrent)")
	fl.StringVar(&f.pieceLength, "piece-length", "", "piece length in bytes, a power of two from 16k to 512M (suffixes k, M; default: about 1000-2000 pieces)")
	fl.StringArrayVar(&f.trackers, "tracker", nil, "announce URL; repeat for more tiers, separate URLs of one tier with commas")
	fl.BoolVar(&f.private, "private", false, "set the private flag (BEP 27: trackers only, no DHT or PEX)")
	fl.StringArrayVar(&f.webSeeds, "web-seed", nil, "web seed URL (BEP 19; repeatable)")
	fl.StringVar(&f.comment, "comment", "", "comment")
	fl.StringVar(&f.name, "name", "", "torrent name (default: the base name of PATH)")
	fl.StringVar(&f.source, "source", "", "source tag inside the info dictionary (changes the info-hash)")
	fl.BoolVar(&f.noDate, "no-date", false, "do not record the creation date")
	fl.BoolVar(&f.force, "force", false, "overwrite the output file if it exists")
	return cmd
}

func runCreate(cmd *cobra.Command, path string, f *createFlags) error {
	opts := metainfo.BuildOptions{
		Private:  f.private,
		WebSeeds: f.webSeeds,
		Comment:  f.comment,
		Name:     f.name,
		Source:   f.source,
		NoDate:   f.noDate,
	}
	if f.pieceLength != "" {
		pl, err := units.Parse(f.pieceLength)
		if err != nil {
			return badInput(fmt.Errorf("--piece-length: %w", err))
		}
		if pl < metainfo.MinBuildPieceLength || pl > metainfo.MaxPieceLength || pl&(pl-1) != 0 {
			return badInput(fmt.Errorf("--piece-length: %d is not a power of two from 16 KiB to 512 MiB", pl))
		}
		opts.PieceLength = pl
	}
	for _, t := range f.trackers {
		var tier []string
		for u := range strings.SplitSeq(t, ",") {
			if u = strings.TrimSpace(u); u == "" {
				continue
			}
			if _, err := tracker.ParseTrackerURL(u); err != nil {
				why := strings.TrimPrefix(err.Error(), tracker.ErrBadURL.Error()+": ")
				return badInput(fmt.Errorf("--tracker %q: %s (http, https and udp trackers only)", u, why))
			}
			tier = append(tier, u)
		}
		if len(tier) > 0 {
			opts.Trackers = append(opts.Trackers, tier)
		}
	}
	for _, w := range f.webSeeds {
		if err := checkWebSeed(w); err != nil {
			return badInput(fmt.Errorf("--web-seed %q: %w", w, err))
		}
	}
	if _, err := os.Stat(path); err != nil {
		return badInput(fmt.Errorf("%s: %w", path, unwrapPathErr(err)))
	}
	name := f.name
	if name == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		name = filepath.Base(abs)
	}
	out := f.output
	if out == "" {
		out = name + ".torrent"
	}
	if !f.force {
		if _, err := os.Lstat(out); err == nil {
			return badInput(fmt.Errorf("%s: already exists (use --force to overwrite)", out))
		}
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	bar := newCreateBar(ctx, cmd.ErrOrStderr())
	opts.Progress = bar.update
	m, data, err := metainfo.Build(ctx, path, opts)
	bar.finish(err == nil)
	if err != nil {
		if errors.Is(err, metainfo.ErrNoData) || errors.Is(err, metainfo.ErrBadOption) || errors.Is(err, fs.ErrNotExist) {
			return badInput(fmt.Errorf("%s: %w", path, err))
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := writeFileAtomic(out, data); err != nil {
		return err
	}
	warnUnportableNames(cmd.ErrOrStderr(), m)
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "info-hash: %s\n", m.InfoHashHex())
	fmt.Fprintf(w, "magnet:    %s\n", m.Magnet())
	fmt.Fprintf(w, "file:      %s (%s in %d pieces of %s)\n", out, units.Format(m.Info.TotalLength()), m.Info.NumPieces(), units.Format(m.Info.PieceLength))
	return nil
}

// warnUnportableNames tells the user about file names that downloaders
// will change (effusion sanitises names the same way on every OS; see
// metainfo.SanitizeComponent), at most five of them.
func warnUnportableNames(w io.Writer, m *metainfo.MetaInfo) {
	var raw struct {
		Files []struct {
			Path []string `bencode:"path"`
		} `bencode:"files"`
		Name string `bencode:"name"`
	}
	if bencode.Unmarshal(m.InfoBytes, &raw) != nil {
		return
	}
	var changed [][2]string
	if raw.Name != m.Info.Name {
		changed = append(changed, [2]string{raw.Name, m.Info.Name})
	}
	for i, f := range raw.Files {
		if i < len(m.Info.Files) {
			got := strings.Join(m.Info.Files[i].Path[1:], "/")
			if want := strings.Join(f.Path, "/"); want != got {
				changed = append(changed, [2]string{want, got})
			}
		}
	}
	for i, c := range changed {
		if i == 5 {
			fmt.Fprintf(w, "effusion: warning: %d more names will be changed\n", len(changed)-5)
			break
		}
		fmt.Fprintf(w, "effusion: warning: %q is not a portable name; downloaders will save it as %q\n", c[0], c[1])
	}
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// writeFileAtomic writes data to a temporary file next to path, syncs it and
// renames it into place, so path is either untouched or complete.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// createBar shows hashing progress on a terminal for long jobs; elsewhere
// it does nothing.
type createBar struct {
	ctx context.Context
	w   io.Writer
	tty bool
	p   *mpb.Progress
	bar *mpb.Bar
}

func newCreateBar(ctx context.Context, w io.Writer) *createBar {
	b := &createBar{ctx: ctx, w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	return b
}

func (b *createBar) update(done, total int64) {
	if !b.tty || total < createProgressMin {
		return
	}
	if b.p == nil {
		b.p = mpb.NewWithContext(b.ctx, mpb.WithOutput(b.w), mpb.WithWidth(40))
		b.bar = b.p.AddBar(total,
			mpb.PrependDecorators(decor.Name("hashing "), decor.CountersKibiByte("% .1f / % .1f")),
			mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.AverageSpeed(decor.SizeB1024(0), " % .1f", decor.WCSyncSpace)))
	}
	b.bar.SetCurrent(done)
}

func (b *createBar) finish(ok bool) {
	if b.p == nil {
		return
	}
	if !ok {
		b.bar.Abort(false)
	}
	b.p.Wait()
}

// checkWebSeed accepts an http or https URL with a host (BEP 19).
func checkWebSeed(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("not an http or https URL")
	case u.Host == "":
		return errors.New("no host")
	}
	return nil
}

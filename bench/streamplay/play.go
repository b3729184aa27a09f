// Package streamplay measures a torrent client streaming one file the way a
// video player reads it: at a constant rate, in fixed-size reads, with
// seeks. Its program prints one JSON object: the time to the first byte,
// the time to the first byte after each seek, every read's wait and the
// stalls (reads that waited longer than a threshold).
//
// It is the player of Effusion's streaming benchmark (bench/stream.sh). It
// imports nothing but the standard library, so that each program that
// links a client in process (bench/stream: anacrolix/torrent, the anchor;
// bench/streamlib: Effusion's library) is its own module, and neither
// client's dependencies constrain the other's. Sources:
//
//	-torrent FILE or -magnet URI: the program's client, in process
//	-url URL: any HTTP server that streams the file with Range requests
//	-cmd CMD: a command (run with sh -c) that prints such a URL, started
//	          after the clock (a player's view of `effusion stream`)
//
// The player model: read k is due chunk/rate after read k-1 was, or when
// read k-1 completed if that was later (a player that stalls pauses, then
// goes on at its rate). Each read fills its chunk (or reaches the end of
// the file). After -segment of playing it seeks to the next of -seeks, and
// stops one segment after the last.
package streamplay

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Source is a client that streams one file.
type Source interface {
	// Open starts the client and returns a reader over the file and the
	// file's size, once the client knows them (after the metadata of a
	// magnet).
	Open(ctx context.Context) (Reader, int64, error)
	Close() error
}

// Completer is a Source that can tell when it had the whole file.
type Completer interface {
	Completed() time.Time
}

// Reader reads the file from its position; Seek moves the position.
type Reader interface {
	ReadContext(ctx context.Context, p []byte) (int, error)
	Seek(off int64, whence int) (int64, error)
}

// Options are the player's flags. A program's in-process client reads
// Torrent or Magnet, Peers, File, Readahead, DataDir, Background and UTP.
type Options struct {
	Torrent, Magnet, URL string
	Cmd                  string
	Peers                string
	File                 int
	Rate, Chunk          int64
	Readahead            int64
	Segment              time.Duration
	Seeks                string
	Stall                time.Duration
	Timeout              time.Duration
	Verify               string
	DataDir              string
	Label                string
	SourceName           string
	Background           bool
	UTP                  bool
	Out                  string
}

// Result is the JSON the program prints. Times are milliseconds since the
// start (At) or durations (the others).
type Result struct {
	Client     string  `json:"client"`
	Source     string  `json:"source"` // torrent, magnet, url or cmd
	File       int     `json:"file"`
	FileSize   int64   `json:"file_size"`
	Rate       int64   `json:"rate"`
	Chunk      int64   `json:"chunk"`
	Readahead  int64   `json:"readahead"` // 0: the client's default
	Background bool    `json:"background"`
	OpenMS     float64 `json:"open_ms"` // until the client knew the file (metadata)
	TTFBMS     float64 `json:"ttfb_ms"` // until the first read completed
	Seeks      []Seek  `json:"seeks"`
	// Stalls: reads other than the first and those right after a seek that
	// waited longer than StallThresholdMS; StallMS is their total wait.
	StallThresholdMS float64 `json:"stall_threshold_ms"`
	Stalls           int     `json:"stalls"`
	StallMS          float64 `json:"stall_ms"`
	WaitP50MS        float64 `json:"wait_p50_ms"`
	WaitP99MS        float64 `json:"wait_p99_ms"`
	WaitMaxMS        float64 `json:"wait_max_ms"`
	BytesRead        int64   `json:"bytes_read"`
	// CompleteMS is when the client had the whole file (when it can tell).
	CompleteMS float64 `json:"complete_ms,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	Verified   *bool   `json:"verified,omitempty"` // with -verify: every byte read matched
	Error      string  `json:"error,omitempty"`
	Reads      []Read  `json:"reads"`
}

// Seek is one seek: where to, and the wait of the read that followed.
type Seek struct {
	To     int64   `json:"to"`
	AtMS   float64 `json:"at_ms"`
	TTFBMS float64 `json:"ttfb_ms"`
}

// Read is one read: its offset in the file, when it was issued, how long
// it waited, and whether it was the first after a seek (or of all).
type Read struct {
	Off    int64   `json:"off"`
	AtMS   float64 `json:"at_ms"`
	WaitMS float64 `json:"wait_ms"`
	Seek   bool    `json:"seek,omitempty"`
}

// Main is a player program's main: it parses the flags, runs the player
// with the source they name (lib for -torrent and -magnet: the program's
// own client, called name in the output) and prints the result.
func Main(name string, lib func(Options) Source) {
	var o Options
	flag.StringVar(&o.Torrent, "torrent", "", "torrent file ("+name+" in process)")
	flag.StringVar(&o.Magnet, "magnet", "", "magnet URI ("+name+" in process)")
	flag.StringVar(&o.URL, "url", "", "HTTP URL serving the file with Range requests")
	flag.StringVar(&o.Cmd, "cmd", "", "command printing such a URL (run with sh -c, started after the clock, stopped at the end)")
	flag.StringVar(&o.Peers, "peers", "", "comma-separated HOST:PORT peers to add")
	flag.IntVar(&o.File, "file", 0, "index of the file in the torrent")
	rate := flag.String("rate", "4MiB", "read rate in bytes per second (suffixes k, KiB, M, MiB)")
	chunk := flag.String("chunk", "64KiB", "bytes per read")
	readahead := flag.String("readahead", "0", "readahead in bytes (0: the client's default)")
	flag.DurationVar(&o.Segment, "segment", 10*time.Second, "play time before each seek and after the last")
	flag.StringVar(&o.Seeks, "seeks", "75%,0", "comma-separated seek targets: N% of the file or a byte offset")
	flag.DurationVar(&o.Stall, "stall", time.Second, "a read that waits longer is a stall")
	flag.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "give up after this long")
	flag.StringVar(&o.Verify, "verify", "", "the file's original: compare every byte read")
	flag.StringVar(&o.DataDir, "data", "", "the client's data directory (default: a temporary one, removed)")
	flag.StringVar(&o.Label, "label", "", "client name in the output (default: the source's)")
	flag.StringVar(&o.SourceName, "source", "", "source name in the output (default: torrent, magnet, url or cmd)")
	flag.BoolVar(&o.Background, "background", true, "download the whole file while streaming")
	flag.BoolVar(&o.UTP, "utp", false, "allow uTP (TCP only by default)")
	flag.StringVar(&o.Out, "o", "", "write the JSON here (default: standard output)")
	flag.Parse()
	var err error
	for _, s := range []struct {
		v   string
		dst *int64
		min int64
	}{{*rate, &o.Rate, 1}, {*chunk, &o.Chunk, 1}, {*readahead, &o.Readahead, 0}} {
		if *s.dst, err = parseSize(s.v); err != nil || *s.dst < s.min {
			fatalf("bad size %q", s.v)
		}
	}
	n := 0
	for _, s := range []string{o.Torrent, o.Magnet, o.URL, o.Cmd} {
		if strings.TrimSpace(s) != "" {
			n++
		}
	}
	if n != 1 || flag.NArg() != 0 {
		fatalf("give exactly one of -torrent, -magnet, -url, -cmd")
	}
	res := run(o, name, lib)
	enc := json.NewEncoder(os.Stdout)
	if o.Out != "" {
		f, err := os.Create(o.Out)
		if err != nil {
			fatalf("%v", err)
		}
		defer f.Close()
		enc = json.NewEncoder(f)
	}
	enc.SetIndent("", " ")
	if err := enc.Encode(res); err != nil {
		fatalf("%v", err)
	}
	if res.Error != "" {
		fmt.Fprintln(os.Stderr, filepath.Base(os.Args[0])+":", res.Error)
		os.Exit(1)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, filepath.Base(os.Args[0])+": "+format+"\n", a...)
	os.Exit(2)
}

// parseSize reads a byte count with an optional suffix: k/K/KiB (1024),
// M/MiB, G/GiB, kB/MB/GB (powers of 1000).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"k", 1 << 10}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 || v*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("bad size")
	}
	return int64(v * float64(mult)), nil
}

// seekTargets resolves -seeks against the file size.
func seekTargets(spec string, size int64) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, ok := strings.CutSuffix(f, "%"); ok {
			v, err := strconv.ParseFloat(p, 64)
			if err != nil || v < 0 || v > 100 {
				return nil, fmt.Errorf("bad seek %q", f)
			}
			out = append(out, min(int64(v/100*float64(size)), max(size-1, 0)))
			continue
		}
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil || v < 0 || v >= size {
			return nil, fmt.Errorf("bad seek %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func run(o Options, name string, lib func(Options) Source) (res Result) {
	res = Result{File: o.File, Rate: o.Rate, Chunk: o.Chunk, Readahead: o.Readahead, Background: o.Background,
		StallThresholdMS: ms(o.Stall), Seeks: []Seek{}, Reads: []Read{}}
	var src Source
	switch {
	case o.URL != "":
		res.Source, res.Client = "url", "http"
		src = &httpSource{url: o.URL}
	case o.Cmd != "":
		res.Source, res.Client = "cmd", strings.Fields(o.Cmd)[0]
		src = &cmdSource{cmdline: o.Cmd}
	default:
		res.Source, res.Client = "torrent", name
		if o.Magnet != "" {
			res.Source = "magnet"
		}
		src = lib(o)
	}
	if o.Label != "" {
		res.Client = o.Label
	}
	if o.SourceName != "" {
		res.Source = o.SourceName
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	start := time.Now()
	defer func() {
		res.DurationMS = ms(time.Since(start))
		if err := src.Close(); err != nil && res.Error == "" {
			res.Error = "close: " + err.Error()
		}
	}()
	fail := func(err error) Result {
		res.Error = err.Error()
		return res
	}
	r, size, err := src.Open(ctx)
	if err != nil {
		return fail(fmt.Errorf("open: %w", err))
	}
	res.OpenMS = ms(time.Since(start))
	if c, ok := src.(Completer); ok {
		defer func() {
			if at := c.Completed(); !at.IsZero() {
				res.CompleteMS = ms(at.Sub(start))
			}
		}()
	}
	res.FileSize = size
	targets, err := seekTargets(o.Seeks, size)
	if err != nil {
		return fail(err)
	}
	var orig *os.File
	if o.Verify != "" {
		if orig, err = os.Open(o.Verify); err != nil {
			return fail(err)
		}
		defer orig.Close()
		ok := true
		res.Verified = &ok
	}
	buf := make([]byte, o.Chunk)
	want := make([]byte, o.Chunk)
	perRead := time.Duration(float64(o.Chunk) / float64(o.Rate) * float64(time.Second))
	perSegment := max(int(o.Segment/perRead), 1)
	var waits []float64
	pos, due := int64(0), time.Now()
	for seg := 0; seg <= len(targets); seg++ {
		seekRead := true
		if seg > 0 {
			pos = targets[seg-1]
			if _, err := r.Seek(pos, io.SeekStart); err != nil {
				return fail(fmt.Errorf("seek: %w", err))
			}
		}
		for k := 0; k < perSegment && pos < size; k++ {
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			issued := time.Now()
			n, err := readFull(ctx, r, buf[:min(o.Chunk, size-pos)])
			done := time.Now()
			if err != nil {
				return fail(fmt.Errorf("read at %d: %w", pos, err))
			}
			wait := ms(done.Sub(issued))
			res.Reads = append(res.Reads, Read{Off: pos, AtMS: ms(issued.Sub(start)), WaitMS: wait, Seek: seekRead})
			switch {
			case seg == 0 && k == 0:
				res.TTFBMS = ms(done.Sub(start))
			case seekRead:
				res.Seeks = append(res.Seeks, Seek{To: pos, AtMS: ms(issued.Sub(start)), TTFBMS: wait})
			default:
				waits = append(waits, wait)
				if done.Sub(issued) > o.Stall {
					res.Stalls++
					res.StallMS += wait
				}
			}
			if orig != nil {
				if _, err := orig.ReadAt(want[:n], pos); err != nil || string(want[:n]) != string(buf[:n]) {
					*res.Verified = false
				}
			}
			seekRead = false
			res.BytesRead += int64(n)
			pos += int64(n)
			if due = due.Add(perRead); due.Before(done) {
				due = done // it stalled: the player pauses, then goes on at its rate
			}
		}
	}
	if len(waits) > 0 {
		slices.Sort(waits)
		res.WaitP50MS = waits[len(waits)/2]
		res.WaitP99MS = waits[min(len(waits)*99/100, len(waits)-1)]
		res.WaitMaxMS = waits[len(waits)-1]
	}
	return res
}

// readFull fills p from r (fewer bytes only at the end of the file).
func readFull(ctx context.Context, r Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.ReadContext(ctx, p[n:])
		n += m
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

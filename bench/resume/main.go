//go:build linux

// Command resume measures what a restart costs a client (docs/BENCHMARKS.md,
// "Restart and many torrents"):
//
//	go run ./bench/resume restart [-size 1024] [-runs 3] [-cold=true]
//	go run ./bench/resume many [-n 10000] [-idle 30s]
//
// restart: a completed torrent of -size MiB, seeded again after a restart,
// with the client's resume data and without it (a full check), for
// Effusion (the library in this process, and the effusion command),
// libtorrent (Debian's python3-libtorrent, through bench/resume/lt_resume.py)
// and qBittorrent (qbittorrent-nox through bench/qbt.sh, timed to the
// WebUI's first seeding state). Each figure is the time from the start (of
// the client, or of the process) to seeding, median of -runs rounds; with
// -cold the payload is dropped from the page cache before every start
// (posix_fadvise, this file only), so a full check reads the disk.
//
// many: -n torrents of 16 KiB each (one piece), added to one client and
// seeded (no peers, no trackers); the client is shut down, and a new
// process loads them all from the resume store. Reported: time to add and
// check them, time to load them, peak RSS of each process, goroutines per
// torrent, and the loading process's CPU while idle for -idle.
//
// Everything runs on loopback (127.0.0.1); nothing is sent anywhere.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "embed"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
	"golang.org/x/sys/unix"
)

//go:embed lt_resume.py
var ltScript []byte

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: resume restart|many [flags] (see the doc comment)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "restart":
		err = restart(os.Args[2:])
	case "many":
		err = many(os.Args[2:])
	case "many-child": // a phase of many, in its own process
		err = manyChild(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "resume:", err)
		os.Exit(1)
	}
}

func cpuLine() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	var got []string
	for _, f := range []string{"avx2", "avx512vl", "sha_ni"} {
		if regexp.MustCompile(`\b` + f + `\b`).Match(b) {
			got = append(got, f)
		}
	}
	return fmt.Sprintf("CPU flags: %s; %d cores; %s", strings.Join(got, " "), runtime.NumCPU(), runtime.Version())
}

// ---- restart ----

func restart(args []string) error {
	fs := flag.NewFlagSet("restart", flag.ExitOnError)
	size := fs.Int("size", 1024, "payload MiB")
	runs := fs.Int("runs", 3, "rounds")
	cold := fs.Bool("cold", true, "drop the payload from the page cache before every start")
	work := fs.String("work", filepath.Join(os.TempDir(), "effusion-bench-resume"), "work directory")
	clients := fs.String("clients", "effusion effusion-cmd lt qbt", "what to measure")
	fs.Parse(args)
	if err := os.MkdirAll(*work, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, c := range strings.Fields(*clients) {
		want[c] = true
	}
	data := filepath.Join(*work, "data")
	payload := filepath.Join(data, "payload.bin")
	if st, err := os.Stat(payload); err != nil || st.Size() != int64(*size)<<20 {
		fmt.Fprintf(os.Stderr, "writing %d MiB of payload\n", *size)
		if err := writePayload(payload, int64(*size)<<20); err != nil {
			return err
		}
	}
	mi, tb, err := metainfo.Build(context.Background(), payload, metainfo.BuildOptions{PieceLength: 1 << 20})
	if err != nil {
		return err
	}
	tpath := filepath.Join(*work, "payload.torrent")
	if err := os.WriteFile(tpath, tb, 0o644); err != nil {
		return err
	}
	var bin, ltPath string
	if want["effusion-cmd"] {
		bin = filepath.Join(*work, "effusion")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/effusion").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	if want["lt"] {
		ltPath = filepath.Join(*work, "lt_resume.py")
		if err := os.WriteFile(ltPath, ltScript, 0o644); err != nil {
			return err
		}
	}
	drop := func() {
		if *cold {
			dropCache(payload)
		}
	}
	type key struct{ client, mode string }
	res := map[key][]float64{}
	add := func(c, m string, d time.Duration) {
		res[key{c, m}] = append(res[key{c, m}], d.Seconds())
		fmt.Fprintf(os.Stderr, "%-22s %-8s %8.4f s\n", c, m, d.Seconds())
	}
	for r := range *runs {
		fmt.Fprintf(os.Stderr, "round %d\n", r+1)
		if want["effusion"] {
			dd := filepath.Join(*work, "eff-lib")
			os.RemoveAll(dd)
			drop()
			d, err := effusionLib(dd, mi, data, true)
			if err != nil {
				return err
			}
			add("effusion (library)", "check", d)
			drop()
			if d, err = effusionLib(dd, mi, data, false); err != nil {
				return err
			}
			add("effusion (library)", "resume", d)
		}
		if want["effusion-cmd"] {
			dd := filepath.Join(*work, "eff-cmd")
			os.RemoveAll(dd)
			for _, m := range []string{"check", "resume"} {
				drop()
				d, err := effusionCmd(bin, tpath, data, dd)
				if err != nil {
					return err
				}
				add("effusion seed (process)", m, d)
			}
		}
		if want["lt"] {
			rp := filepath.Join(*work, "lt.resume")
			os.Remove(rp)
			for _, m := range []string{"check", "resume"} {
				drop()
				in, wall, err := libtorrent(ltPath, m, tpath, data, rp)
				if err != nil {
					return err
				}
				add("libtorrent (session)", m, in)
				add("libtorrent (process)", m, wall)
			}
		}
		if want["qbt"] {
			prof := filepath.Join(*work, "qbt-profile")
			os.RemoveAll(prof)
			for _, m := range []string{"check", "resume"} {
				drop()
				d, err := qbittorrent(*work, tpath, data, prof)
				if err != nil {
					return err
				}
				add("qBittorrent (process)", m, d)
			}
		}
	}
	fmt.Printf("\nRestart of a completed %d MiB torrent (1 MiB pieces), time to seeding, median of %d; page cache %s.\n%s\n\n",
		*size, *runs, map[bool]string{true: "dropped before each start (cold)", false: "warm"}[*cold], cpuLine())
	fmt.Println("| client | full check | with resume data | resume / check |")
	fmt.Println("|---|---:|---:|---:|")
	for _, c := range []string{"effusion (library)", "effusion seed (process)", "libtorrent (session)", "libtorrent (process)", "qBittorrent (process)"} {
		ch, rs := res[key{c, "check"}], res[key{c, "resume"}]
		if len(ch) == 0 {
			continue
		}
		mc, mr := median(ch), median(rs)
		fmt.Printf("| %s | %.3f s | %.3f s | %.3f |\n", c, mc, mr, mr/mc)
	}
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func writePayload(path string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	r := rand.NewChaCha8([32]byte{7})
	buf := make([]byte, 4<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		b := buf[:min(int64(len(buf)), left)]
		r.Read(b)
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// dropCache asks the kernel to forget the file's cached pages (it is
// clean: written and synced), so that the next read comes from the disk.
func dropCache(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	f.Sync()
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// effusionLib times client.New (and, for a check, Add) to seeding.
func effusionLib(dataDir string, mi *metainfo.MetaInfo, dir string, add bool) (time.Duration, error) {
	ctx := context.Background()
	t0 := time.Now()
	c, err := client.New(ctx, client.Config{DataDir: dataDir, ListenAddr: "127.0.0.1:0", Logger: quiet()})
	if err != nil {
		return 0, err
	}
	defer c.Shutdown(ctx)
	var t *client.Torrent
	if add {
		if t, err = c.Add(ctx, client.Spec{Torrent: mi, Dir: dir}); err != nil {
			return 0, err
		}
	} else if ts := c.Torrents(); len(ts) == 1 {
		t = ts[0]
	} else {
		return 0, fmt.Errorf("the store holds %d torrents", len(ts))
	}
	for t.Stats().State != client.Seeding {
		if st := t.Stats(); st.State == client.Failed || time.Since(t0) > 10*time.Minute {
			return 0, fmt.Errorf("effusion: %v %v", st.State, st.Err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	return time.Since(t0), nil
}

// effusionCmd times `effusion seed` from its start to its log line saying
// the data is checked (then interrupts it: it writes its resume data).
func effusionCmd(bin, tpath, dir, dataDir string) (time.Duration, error) {
	cmd := exec.Command(bin, "seed", tpath, "-d", dir, "--data-dir", dataDir, "--port", "0", "--bind", "127.0.0.1", "-v")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	var d time.Duration
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `msg="data checked"`) {
			d = time.Since(t0)
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if d == 0 {
		return 0, fmt.Errorf("effusion seed never said its data was checked")
	}
	return d, nil
}

// libtorrent runs lt_resume.py: the time it reports (add to seeding) and
// the process's wall time to that line.
func libtorrent(script, mode, tpath, dir, resume string) (in, wall time.Duration, err error) {
	cmd := exec.Command("/usr/bin/python3", script, mode, tpath, dir, resume)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "READY" {
			wall = time.Since(t0)
			s, _ := strconv.ParseFloat(f[1], 64)
			in = time.Duration(s * float64(time.Second))
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("lt_resume.py %s: %w", mode, err)
	}
	if wall == 0 {
		return 0, 0, fmt.Errorf("lt_resume.py %s: no READY", mode)
	}
	return in, wall, nil
}

// qbittorrent starts qbittorrent-nox (bench/qbt.sh seed) with the profile
// and times its start to the first seeding state in its WebUI; then it
// shuts it down (qBittorrent writes its fast-resume data).
func qbittorrent(work, tpath, dir, profile string) (time.Duration, error) {
	port, webui := freePort(), freePort()
	cmd := exec.Command("bench/qbt.sh", "seed", tpath, dir, profile, strconv.Itoa(port), strconv.Itoa(webui), "600")
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/api/v2/torrents/info", webui)
	up := regexp.MustCompile(`"state":"(uploading|stalledUP|queuedUP|forcedUP)"`)
	for time.Since(t0) < 10*time.Minute {
		if out, err := exec.Command("curl", "-s", "-m", "1", url).Output(); err == nil && up.Match(out) {
			return time.Since(t0), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("qBittorrent never seeded")
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ---- many ----

type manyResult struct {
	Phase      string  `json:"phase"`
	N          int     `json:"n"`
	Seconds    float64 `json:"seconds"` // add+check, or load
	ReadyS     float64 `json:"ready_s"` // until every torrent seeds
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	RSSMiB     float64 `json:"rss_mib"`
	Goroutines int     `json:"goroutines"`
	IdleCPU    float64 `json:"idle_cpu_pct"` // of one core
	IdleS      float64 `json:"idle_s"`
}

func many(args []string) error {
	fs := flag.NewFlagSet("many", flag.ExitOnError)
	n := fs.Int("n", 10000, "torrents")
	idle := fs.Duration("idle", 30*time.Second, "idle window for the CPU figure")
	work := fs.String("work", filepath.Join(os.TempDir(), "effusion-bench-many"), "work directory")
	fs.Parse(args)
	os.RemoveAll(*work)
	if err := os.MkdirAll(filepath.Join(*work, "data"), 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(*work)
	fmt.Fprintf(os.Stderr, "making %d torrents\n", *n)
	r := rand.NewChaCha8([32]byte{9})
	buf := make([]byte, 16<<10)
	for i := range *n {
		r.Read(buf)
		if err := os.WriteFile(filepath.Join(*work, "data", fmt.Sprintf("t%05d.bin", i)), buf, 0o644); err != nil {
			return err
		}
	}
	var out []manyResult
	for _, phase := range []string{"add", "load"} {
		cmd := exec.Command(os.Args[0], "many-child", phase, strconv.Itoa(*n), *work, idle.String())
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("%s: %w", phase, err)
		}
		var res manyResult
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("%s: %w: %s", phase, err, b)
		}
		out = append(out, res)
	}
	a, l := out[0], out[1]
	fmt.Printf("\n%d torrents of 16 KiB in one client (seeding, no peers, no trackers).\n%s\n\n", *n, cpuLine())
	fmt.Println("| phase | time | peak RSS | goroutines (per torrent) | idle CPU (one core) |")
	fmt.Println("|---|---:|---:|---:|---:|")
	fmt.Printf("| add and check all | %.2f s | %.0f MiB | %d (%.2f) | |\n", a.Seconds, a.PeakRSSMiB, a.Goroutines, float64(a.Goroutines)/float64(*n))
	fmt.Printf("| restart: load all from the store | %.2f s (all seeding at %.2f s) | %.0f MiB | %d (%.2f) | %.2f%% over %.0f s |\n",
		l.Seconds, l.ReadyS, l.PeakRSSMiB, l.Goroutines, float64(l.Goroutines)/float64(*n), l.IdleCPU, l.IdleS)
	return nil
}

func manyChild(args []string) error {
	phase, work := args[0], args[2]
	n, _ := strconv.Atoi(args[1])
	idle, _ := time.ParseDuration(args[3])
	ctx := context.Background()
	dataDir, dir := filepath.Join(work, "store"), filepath.Join(work, "data")
	t0 := time.Now()
	c, err := client.New(ctx, client.Config{DataDir: dataDir, ListenAddr: "127.0.0.1:0", Logger: quiet(), DownloadDir: dir})
	if err != nil {
		return err
	}
	res := manyResult{Phase: phase, N: n}
	if phase == "add" {
		for i := range n {
			p := filepath.Join(dir, fmt.Sprintf("t%05d.bin", i))
			mi, _, err := metainfo.Build(ctx, p, metainfo.BuildOptions{PieceLength: 16 << 10})
			if err != nil {
				return err
			}
			if _, err := c.Add(ctx, client.Spec{Torrent: mi, Dir: dir}); err != nil {
				return err
			}
		}
	} else {
		res.Seconds = time.Since(t0).Seconds()
	}
	ts := c.Torrents()
	if len(ts) != n {
		return fmt.Errorf("%d torrents, want %d", len(ts), n)
	}
	for _, t := range ts {
		for t.Stats().State != client.Seeding {
			if st := t.Stats(); st.State == client.Failed || time.Since(t0) > 10*time.Minute {
				return fmt.Errorf("%s: %v %v", t.Name(), st.State, st.Err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	res.ReadyS = time.Since(t0).Seconds()
	if phase == "add" {
		res.Seconds = res.ReadyS
	}
	runtime.GC()
	res.Goroutines = runtime.NumGoroutine()
	if phase == "load" {
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		w0 := time.Now()
		time.Sleep(idle)
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime)
		res.IdleS = time.Since(w0).Seconds()
		res.IdleCPU = 100 * cpu / res.IdleS
	}
	res.PeakRSSMiB, res.RSSMiB = rss()
	if err := c.Shutdown(ctx); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// rss reads the peak and current resident set (MiB) from /proc.
func rss() (peak, now float64) {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmHWM:":
			peak = v / 1024
		case "VmRSS:":
			now = v / 1024
		}
	}
	return peak, now
}

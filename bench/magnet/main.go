// Command magnet measures the time from starting a download of a magnet
// link to its first verified piece, on loopback with one libtorrent
// seeder, for `effusion download MAGNET` and for libtorrent itself (Debian's
// python3-libtorrent, through internal/testpeer/lt_peer.py's magnet mode),
// in alternating rounds of one run (docs/BENCHMARKS.md). Run it from the
// repository root:
//
//	go run ./bench/magnet [-size 64] [-runs 5]
//
// Both are timed from the launch of their process to the line that says
// the first piece verified ("first piece verified" in Effusion's -v log,
// FIRSTPIECE from the script), and to the metadata's arrival; libtorrent's
// own figures inside its session (without Python's start-up) are given too.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
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

	"github.com/effusion-bt/effusion/metainfo"
)

func main() {
	size := flag.Int("size", 64, "payload MiB")
	runs := flag.Int("runs", 5, "rounds")
	piece := flag.Int("piece", 256, "piece KiB")
	work := flag.String("work", filepath.Join(os.TempDir(), "effusion-bench-magnet"), "work directory")
	flag.Parse()
	if err := run(*size, *runs, *piece, *work); err != nil {
		fmt.Fprintln(os.Stderr, "magnet:", err)
		os.Exit(1)
	}
}

type sample struct{ meta, first time.Duration }

func run(size, runs, piece int, work string) error {
	os.RemoveAll(work)
	seedDir := filepath.Join(work, "seed")
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(work)
	payload := filepath.Join(seedDir, "payload.bin")
	if err := writePayload(payload, int64(size)<<20); err != nil {
		return err
	}
	mi, tb, err := metainfo.Build(context.Background(), payload, metainfo.BuildOptions{PieceLength: int64(piece) << 10})
	if err != nil {
		return err
	}
	tpath := filepath.Join(work, "payload.torrent")
	if err := os.WriteFile(tpath, tb, 0o644); err != nil {
		return err
	}
	script, err := filepath.Abs("internal/testpeer/lt_peer.py")
	if err != nil {
		return err
	}
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	bin := filepath.Join(work, "effusion")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/effusion").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	seedPort := freePort()
	seeder := exec.Command("/usr/bin/python3", script, "seed", tpath, seedDir, strconv.Itoa(seedPort))
	seeder.Dir = work
	out, err := seeder.StdoutPipe()
	if err != nil {
		return err
	}
	if err := seeder.Start(); err != nil {
		return err
	}
	defer func() {
		seeder.Process.Signal(syscall.SIGTERM)
		seeder.Wait()
	}()
	if !waitLine(out, "READY", 120*time.Second) {
		return fmt.Errorf("the libtorrent seeder never got ready")
	}
	go io.Copy(io.Discard, out)
	m := &metainfo.Magnet{InfoHash: mi.InfoHash, HasV1: true, Peers: []string{fmt.Sprintf("127.0.0.1:%d", seedPort)}}
	magnet := m.String()

	var eff, lt, ltIn []sample
	for r := range runs {
		order := []string{"effusion", "libtorrent"}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, who := range order {
			dir := filepath.Join(work, fmt.Sprintf("dl-%s-%d", who, r))
			if who == "effusion" {
				s, err := effusion(bin, magnet, dir)
				if err != nil {
					return err
				}
				eff = append(eff, s)
				fmt.Fprintf(os.Stderr, "round %d effusion   metadata %v first piece %v\n", r+1, s.meta, s.first)
			} else {
				s, in, err := libtorrent(script, magnet, dir, seedPort)
				if err != nil {
					return err
				}
				lt, ltIn = append(lt, s), append(ltIn, in)
				fmt.Fprintf(os.Stderr, "round %d libtorrent metadata %v first piece %v (in session %v / %v)\n", r+1, s.meta, s.first, in.meta, in.first)
			}
			os.RemoveAll(dir)
		}
	}
	fmt.Printf("\nMagnet to first verified piece, one libtorrent seeder on loopback, %d MiB, %d KiB pieces, median of %d.\n%s\n\n",
		size, piece, runs, cpuLine())
	fmt.Println("| client | metadata | first piece | first piece / Effusion's |")
	fmt.Println("|---|---:|---:|---:|")
	ef := med(eff, false)
	row := func(name string, s []sample) {
		fmt.Printf("| %s | %.3f s | %.3f s | %.2f |\n", name, med(s, true).Seconds(), med(s, false).Seconds(),
			med(s, false).Seconds()/ef.Seconds())
	}
	row("effusion download (process)", eff)
	row("libtorrent 2.0 (python process)", lt)
	row("libtorrent 2.0 (in its session, no start-up)", ltIn)
	return nil
}

func med(s []sample, meta bool) time.Duration {
	v := make([]time.Duration, len(s))
	for i, x := range s {
		v[i] = x.first
		if meta {
			v[i] = x.meta
		}
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// effusion runs `effusion download MAGNET -v` until its log says the
// first piece verified, then interrupts it.
func effusion(bin, magnet, dir string) (sample, error) {
	cmd := exec.Command(bin, "download", magnet, "-o", dir, "--data-dir", dir+".data", "--port", "0",
		"--bind", "127.0.0.1", "-v")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return sample{}, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir + ".data")
	var s sample
	sc := bufio.NewScanner(stderr)
	deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		l := sc.Text()
		if s.meta == 0 && strings.Contains(l, `msg="metadata fetched"`) {
			s.meta = time.Since(t0)
		}
		if strings.Contains(l, `msg="first piece verified"`) {
			s.first = time.Since(t0)
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if s.first == 0 {
		return s, fmt.Errorf("effusion never verified a piece")
	}
	return s, nil
}

// libtorrent runs lt_peer.py's magnet mode: the process's times (launch to
// its METADATA and FIRSTPIECE lines) and the ones it reports itself.
func libtorrent(script, magnet, dir string, seedPort int) (wall, in sample, err error) {
	os.MkdirAll(dir, 0o755)
	cmd := exec.Command("/usr/bin/python3", script, "magnet", magnet, dir, strconv.Itoa(freePort()),
		"--peer", fmt.Sprintf("127.0.0.1:%d", seedPort), "--max-seconds", "60")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return wall, in, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return wall, in, err
	}
	re := regexp.MustCompile(`^(METADATA|FIRSTPIECE) ([0-9.]+)`)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		secs, _ := strconv.ParseFloat(m[2], 64)
		d := time.Duration(secs * float64(time.Second))
		if m[1] == "METADATA" {
			wall.meta, in.meta = time.Since(t0), d
		} else {
			wall.first, in.first = time.Since(t0), d
			break
		}
	}
	go io.Copy(io.Discard, out)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if wall.first == 0 {
		return wall, in, fmt.Errorf("libtorrent never verified a piece")
	}
	return wall, in, nil
}

func waitLine(r io.Reader, prefix string, within time.Duration) bool {
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), prefix) {
				found <- true
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		return ok
	case <-time.After(within):
		return false
	}
}

func writePayload(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	r := rand.NewChaCha8([32]byte{3})
	buf := make([]byte, 4<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		b := buf[:min(int64(len(buf)), left)]
		r.Read(b)
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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

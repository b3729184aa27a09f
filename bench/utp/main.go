// Command utp measures the utp package on loopback: a uTP pair and a TCP
// pair streaming the same bytes in this process, and a libtorrent pair over
// uTP only (lt_pair.py), reporting throughput, CPU seconds per GiB and the
// ratios the uTP issue sets (uTP >= 0.5x TCP, >= 1.5x libtorrent's uTP).
//
//	go run ./bench/utp -size 512 -runs 3
//
// CPU is the process's user+system time over the transfer (both ends).
// libtorrent's pair also writes the payload to disk (in -dir, by default
// the temporary directory) and hashes it; ours streams from memory.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/utp"
)

type result struct {
	seconds, cpu float64
	bytes        int64
}

func (r result) mbps() float64      { return float64(r.bytes) / r.seconds / 1e6 }
func (r result) cpuPerGiB() float64 { return r.cpu / (float64(r.bytes) / (1 << 30)) }

func cpuNow() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// stream copies size bytes from d to acc and times it.
func stream(d, acc net.Conn, size int64) (result, error) {
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	runtime.GC()
	c0, t0 := cpuNow(), time.Now()
	errc := make(chan error, 1)
	go func() {
		for n := int64(0); n < size; n += int64(len(chunk)) {
			if _, err := d.Write(chunk[:min(int64(len(chunk)), size-n)]); err != nil {
				errc <- err
				return
			}
		}
		errc <- d.Close()
	}()
	n, err := io.Copy(io.Discard, acc)
	if werr := <-errc; err == nil {
		err = werr
	}
	r := result{seconds: time.Since(t0).Seconds(), cpu: cpuNow() - c0, bytes: n}
	acc.Close()
	if err == nil && n != size {
		err = fmt.Errorf("received %d of %d bytes", n, size)
	}
	return r, err
}

func utpPair(size int64, cfg utp.Config) (result, error) {
	a, err := utp.Listen("udp4", "127.0.0.1:0", cfg)
	if err != nil {
		return result{}, err
	}
	defer a.Close()
	b, err := utp.Listen("udp4", "127.0.0.1:0", cfg)
	if err != nil {
		return result{}, err
	}
	defer b.Close()
	accc := make(chan net.Conn, 1)
	go func() {
		c, _ := b.Accept()
		accc <- c
	}()
	d, err := a.Dial(b.Addr().String())
	if err != nil {
		return result{}, err
	}
	d.Write([]byte{0}) // one byte first: both ends are then established
	acc := <-accc
	if _, err := io.ReadFull(acc, make([]byte, 1)); err != nil {
		return result{}, err
	}
	return stream(d, acc, size)
}

func tcpPair(size int64) (result, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	defer l.Close()
	accc := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accc <- c
	}()
	d, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		return result{}, err
	}
	return stream(d, <-accc, size)
}

func ltPair(dir string, mib int) (result, error) {
	work, err := os.MkdirTemp(dir, "lt-utp-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(work)
	_, self, _, _ := runtime.Caller(0)
	out, err := exec.Command("/usr/bin/python3", filepath.Join(filepath.Dir(self), "lt_pair.py"), work, fmt.Sprint(mib)).Output()
	if err != nil {
		return result{}, fmt.Errorf("lt_pair.py: %v: %s", err, out)
	}
	var j struct {
		Seconds float64 `json:"seconds"`
		CPU     float64 `json:"cpu_seconds"`
		Bytes   int64   `json:"bytes"`
		UTP     bool    `json:"utp"`
		Error   string  `json:"error"`
	}
	if err := json.Unmarshal(out, &j); err != nil || j.Error != "" {
		return result{}, fmt.Errorf("lt_pair.py: %s", out)
	}
	if !j.UTP {
		return result{}, fmt.Errorf("libtorrent's pair did not use uTP")
	}
	return result{seconds: j.Seconds, cpu: j.CPU, bytes: j.Bytes}, nil
}

func median(rs []result) result {
	sort.Slice(rs, func(i, j int) bool { return rs[i].mbps() < rs[j].mbps() })
	return rs[len(rs)/2]
}

func main() {
	mib := flag.Int("size", 512, "payload MiB")
	runs := flag.Int("runs", 3, "runs per case (the median is reported)")
	dir := flag.String("dir", os.TempDir(), "where libtorrent's pair keeps its files")
	skipLT := flag.Bool("no-libtorrent", false, "skip the libtorrent pair")
	flag.Parse()
	size := int64(*mib) << 20
	cases := []struct {
		name string
		run  func() (result, error)
	}{
		{"utp", func() (result, error) { return utpPair(size, utp.Config{}) }},
		{"utp-1400", func() (result, error) { return utpPair(size, utp.Config{MaxPacketSize: 1400}) }},
		{"tcp", func() (result, error) { return tcpPair(size) }},
	}
	if !*skipLT {
		cases = append(cases, struct {
			name string
			run  func() (result, error)
		}{"libtorrent-utp", func() (result, error) { return ltPair(*dir, *mib) }})
	}
	res := map[string][]result{}
	for i := 0; i < *runs; i++ { // rounds: every case once before any runs again
		for _, c := range cases {
			r, err := c.run()
			if err != nil {
				log.Fatalf("%s: %v", c.name, err)
			}
			res[c.name] = append(res[c.name], r)
		}
	}
	fmt.Printf("%d MiB on loopback, median of %d runs\n\n", *mib, *runs)
	fmt.Printf("| pair | MB/s | CPU-s per GiB |\n|---|---|---|\n")
	med := map[string]result{}
	for _, c := range cases {
		m := median(res[c.name])
		med[c.name] = m
		fmt.Printf("| %s | %.0f | %.2f |\n", c.name, m.mbps(), m.cpuPerGiB())
	}
	fmt.Printf("\nutp / tcp = %.2f\n", med["utp"].mbps()/med["tcp"].mbps())
	if lt, ok := med["libtorrent-utp"]; ok {
		fmt.Printf("utp / libtorrent-utp = %.2f\nutp-1400 / libtorrent-utp = %.2f\n", med["utp"].mbps()/lt.mbps(), med["utp-1400"].mbps()/lt.mbps())
	}
}

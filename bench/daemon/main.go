// Command daemon compares effusion daemon with transmission-daemon on the
// same machine for the same torrents: the latency of torrent-get over
// all of them with the fields `transmission-remote -l` asks for, and each
// daemon's resident memory with the torrents idle (complete, seeding, no
// peers, no trackers).
//
//	go run ./bench/daemon                       # 1,000 torrents, 300 rounds
//	go run ./bench/daemon -torrents 1000 -rounds 300
//
// It builds the effusion binary, makes -torrents small payloads and their
// torrents in a work directory, starts both daemons on 127.0.0.1 (RPC and
// peers), adds every torrent to each over the RPC with its data in place,
// waits until all seed, then times torrent-get, alternating the daemons
// round by round so that the shared machine's noise hits both alike.
// transmission-daemon is Debian's (transmission-daemon package).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
)

// listFields are the fields transmission-remote -l asks for.
var listFields = []string{"error", "errorString", "eta", "id", "isFinished", "leftUntilDone", "name",
	"peersGettingFromUs", "peersSendingToUs", "rateDownload", "rateUpload", "sizeWhenDone", "status", "uploadRatio"}

func main() {
	n := flag.Int("torrents", 1000, "torrents in each daemon")
	rounds := flag.Int("rounds", 300, "torrent-get calls per daemon")
	size := flag.Int("size", 32<<10, "payload bytes per torrent")
	work := flag.String("work", "", "work directory (default: a temporary one, removed)")
	keep := flag.Bool("keep", false, "keep the work directory")
	flag.Parse()
	log.SetFlags(0)

	dir := *work
	if dir == "" {
		d, err := os.MkdirTemp("", "effusion-bench-daemon-")
		check(err)
		dir = d
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	cpu, _ := exec.Command("sh", "-c", `grep -o 'sha_ni\|avx512vl\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' '`).Output()
	model, _ := exec.Command("sh", "-c", `grep -m1 'model name' /proc/cpuinfo | cut -d: -f2`).Output()
	fmt.Printf("cpu:%s (flags: %s), %d torrents of %d bytes, %d rounds\n", strings.TrimSpace(string(model)), strings.TrimSpace(string(cpu)), *n, *size, *rounds)

	bin := filepath.Join(dir, "effusion")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/effusion").CombinedOutput()
	if err != nil {
		log.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	check(os.MkdirAll(data, 0o755))
	log.Printf("making %d torrents", *n)
	torrents := makeTorrents(data, *n, *size)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eff := startEffusion(ctx, bin, dir)
	defer eff.stop()
	tr := startTransmission(ctx, dir)
	defer tr.stop()
	for _, d := range []*daemon{eff, tr} {
		log.Printf("%s: adding %d torrents", d.name, len(torrents))
		t0 := time.Now()
		for _, raw := range torrents {
			d.call("torrent-add", map[string]any{"metainfo": base64.StdEncoding.EncodeToString(raw), "download-dir": data})
		}
		d.waitSeeding(len(torrents))
		log.Printf("%s: %d torrents seeding after %v", d.name, len(torrents), time.Since(t0).Round(time.Millisecond))
	}
	// Let both settle: start-up work done, memory at rest.
	time.Sleep(10 * time.Second)

	args := map[string]any{"fields": listFields}
	for _, d := range []*daemon{eff, tr} { // warm up, and check the answers
		body := d.call("torrent-get", args)
		var r struct {
			Arguments struct {
				Torrents []map[string]any `json:"torrents"`
			} `json:"arguments"`
		}
		check(json.Unmarshal(body, &r))
		if len(r.Arguments.Torrents) != *n {
			log.Fatalf("%s: torrent-get returned %d torrents", d.name, len(r.Arguments.Torrents))
		}
		d.bytes = len(body)
	}
	for i := 0; i < *rounds; i++ {
		order := []*daemon{eff, tr}
		if i%2 == 1 {
			order = []*daemon{tr, eff}
		}
		for _, d := range order {
			t0 := time.Now()
			d.call("torrent-get", args)
			d.lat = append(d.lat, time.Since(t0))
		}
	}
	fmt.Println()
	fmt.Println("| daemon | torrent-get median | p10 | p90 | response bytes | RSS idle (MiB) |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, d := range []*daemon{eff, tr} {
		slices.Sort(d.lat)
		q := func(p float64) time.Duration { return d.lat[int(p*float64(len(d.lat)-1))] }
		fmt.Printf("| %s | %v | %v | %v | %d | %.1f |\n", d.name, q(0.5).Round(10*time.Microsecond),
			q(0.1).Round(10*time.Microsecond), q(0.9).Round(10*time.Microsecond), d.bytes, float64(rss(d.cmd.Process.Pid))/(1<<20))
	}
	med := func(d *daemon) float64 { return float64(d.lat[len(d.lat)/2]) }
	fmt.Printf("\nmedian latency effusion / transmission-daemon: %.2f\n", med(eff)/med(tr))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// makeTorrents writes n payloads (one file each) under data and returns
// their torrents.
func makeTorrents(data string, n, size int) [][]byte {
	var out [][]byte
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		rand.Read(buf)
		p := filepath.Join(data, fmt.Sprintf("payload-%04d.bin", i))
		check(os.WriteFile(p, buf, 0o644))
		_, raw, err := metainfo.Build(context.Background(), p, metainfo.BuildOptions{PieceLength: 16 << 10, NoDate: true})
		check(err)
		out = append(out, raw)
	}
	return out
}

// daemon is one RPC server under test.
type daemon struct {
	name string
	cmd  *exec.Cmd
	url  string
	hc   *http.Client
	sid  string
	lat  []time.Duration
	log  *bytes.Buffer

	bytes int
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startEffusion(ctx context.Context, bin, dir string) *daemon {
	rpc := freePort()
	d := &daemon{name: "effusion daemon", url: fmt.Sprintf("http://127.0.0.1:%d/transmission/rpc", rpc), log: new(bytes.Buffer)}
	d.cmd = exec.CommandContext(ctx, bin, "daemon", "--data-dir", filepath.Join(dir, "effusion-state"),
		"--download-dir", filepath.Join(dir, "data"), "--bind", "127.0.0.1", "--port", "0",
		"--rpc-listen", fmt.Sprintf("127.0.0.1:%d", rpc))
	d.cmd.Stderr = d.log
	check(d.cmd.Start())
	d.hc = &http.Client{Timeout: time.Minute}
	d.waitUp()
	return d
}

func startTransmission(ctx context.Context, dir string) *daemon {
	exe, err := exec.LookPath("transmission-daemon")
	if err != nil {
		log.Fatal("transmission-daemon not found (Debian: apt-get install transmission-daemon)")
	}
	rpc, peer := freePort(), freePort()
	conf := filepath.Join(dir, "transmission")
	check(os.MkdirAll(conf, 0o755))
	settings := map[string]any{
		"bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1", "rpc-bind-address": "127.0.0.1",
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "port-forwarding-enabled": false,
		"utp-enabled": false, "rpc-authentication-required": false, "rpc-whitelist-enabled": true,
		"rpc-whitelist": "127.0.0.1", "rpc-host-whitelist-enabled": false, "message-level": 1,
		"download-dir": filepath.Join(dir, "data"), "peer-port": peer, "rpc-port": rpc,
		"download-queue-enabled": false, "seed-queue-enabled": false, "queue-stalled-enabled": false,
		"cache-size-mb": 4,
	}
	b, _ := json.MarshalIndent(settings, "", "  ")
	check(os.WriteFile(filepath.Join(conf, "settings.json"), b, 0o644))
	d := &daemon{name: "transmission-daemon", url: fmt.Sprintf("http://127.0.0.1:%d/transmission/rpc", rpc), log: new(bytes.Buffer)}
	d.cmd = exec.CommandContext(ctx, exe, "-f", "-g", conf)
	d.cmd.Stderr = d.log
	d.cmd.Stdout = d.log
	check(d.cmd.Start())
	d.hc = &http.Client{Timeout: time.Minute}
	d.waitUp()
	var sg struct {
		Arguments struct {
			Version string `json:"version"`
		} `json:"arguments"`
	}
	json.Unmarshal(d.call("session-get", nil), &sg)
	log.Printf("transmission-daemon %s", sg.Arguments.Version)
	return d
}

func (d *daemon) waitUp() {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := d.hc.Post(d.url, "application/json", strings.NewReader(`{"method":"session-get"}`))
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			log.Fatalf("%s did not start: %v\n%s", d.name, err, d.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// call makes an RPC call through the session-id handshake and returns the
// body; a failure ends the program.
func (d *daemon) call(method string, args any) []byte {
	body, _ := json.Marshal(map[string]any{"method": method, "arguments": args})
	for range 3 {
		req, _ := http.NewRequest("POST", d.url, bytes.NewReader(body))
		req.Header.Set("X-Transmission-Session-Id", d.sid)
		resp, err := d.hc.Do(req)
		check(err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		check(err)
		if resp.StatusCode == http.StatusConflict {
			d.sid = resp.Header.Get("X-Transmission-Session-Id")
			continue
		}
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"result":"success"`)) {
			log.Fatalf("%s %s: HTTP %d %s", d.name, method, resp.StatusCode, b[:min(len(b), 300)])
		}
		return b
	}
	log.Fatalf("%s: session id handshake failed", d.name)
	return nil
}

func (d *daemon) waitSeeding(n int) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var r struct {
			Arguments struct {
				Torrents []struct {
					Status int `json:"status"`
				} `json:"torrents"`
			} `json:"arguments"`
		}
		check(json.Unmarshal(d.call("torrent-get", map[string]any{"fields": []string{"status"}}), &r))
		seeding := 0
		for _, t := range r.Arguments.Torrents {
			if t.Status == 6 {
				seeding++
			}
		}
		if seeding == n {
			return
		}
		if time.Now().After(deadline) {
			log.Fatalf("%s: %d of %d seeding after 5 minutes", d.name, seeding, n)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
	}
}

// rss returns a process's resident set size in bytes.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	check(err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// Command dht measures Effusion's DHT on a loopback DHT of in-process
// nodes: the time from the start of a search to its first peer for an
// announced info-hash (median and max over -lookups), beside libtorrent's
// lookup time for the same info-hashes on the same DHT in the same run,
// and the memory and CPU of one idle node with a full routing table (in a
// child process, so that the other nodes do not count).
//
//	go run ./bench/dht                   # 50 nodes, 20 lookups, 60 s idle
//	go run ./bench/dht -nodes 50 -lookups 20 -idle 60s -lt=false
//
// Everything runs on 127.0.0.1. libtorrent needs python3-libtorrent under
// /usr/bin/python3.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/dht"
)

func main() {
	nodes := flag.Int("nodes", 50, "nodes in the loopback DHT")
	lookups := flag.Int("lookups", 20, "lookups to time")
	idle := flag.Duration("idle", 60*time.Second, "idle window of the measured node (0: skip)")
	withLT := flag.Bool("lt", true, "time libtorrent's lookups too")
	hold := flag.Duration("hold", 0, "keep the DHT running this long after the lookups (for debugging other clients)")
	idleNode := flag.String("idle-node", "", "internal: run one idle node bootstrapping from these addresses and report")
	flag.Parse()
	if *idleNode != "" {
		runIdle(strings.Split(*idleNode, ","), *idle)
		return
	}
	fmt.Printf("cpu: %s, %d cores, %s\n", cpuName(), runtime.NumCPU(), runtime.Version())
	ctx := context.Background()
	var ns []*dht.Node
	var addrs []string
	var conns []net.PacketConn
	for range *nodes {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		conns = append(conns, c)
		addrs = append(addrs, c.LocalAddr().String())
	}
	t0 := time.Now()
	for i, c := range conns {
		boot := []string{}
		for _, a := range addrs[:4] {
			if a != addrs[i] {
				boot = append(boot, a)
			}
		}
		n, err := dht.New(ctx, dht.Config{Conn: c, Bootstrap: boot})
		if err != nil {
			log.Fatal(err)
		}
		ns = append(ns, n)
	}
	defer func() {
		for _, n := range ns {
			n.Close()
		}
	}()
	for _, n := range ns {
		n.WaitBootstrap(ctx)
	}
	// A second bootstrap round fills the tables of the early nodes too.
	for _, n := range ns {
		n.Bootstrap(ctx)
	}
	var tbl []int
	for _, n := range ns {
		tbl = append(tbl, n.Stats().Nodes)
	}
	fmt.Printf("%d nodes bootstrapped in %v; routing table sizes median %d\n", len(ns), time.Since(t0).Round(time.Millisecond), median(tbl))

	var ihs [][20]byte
	var ours []time.Duration
	for i := range *lookups {
		var ih [20]byte
		rand.Read(ih[:])
		ihs = append(ihs, ih)
		announcer := ns[(i*7)%len(ns)]
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		if _, err := announcer.Search(sctx, ih, dht.SearchOptions{AnnouncePort: uint16(20000 + i)}); err != nil {
			log.Fatal(err)
		}
		cancel()
		searcher := ns[(i*7+len(ns)/2)%len(ns)]
		start := time.Now()
		first := time.Duration(-1)
		sctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		searcher.Search(sctx, ih, dht.SearchOptions{OnPeers: func([]netip.AddrPort) {
			if first < 0 {
				first = time.Since(start)
				cancel()
			}
		}})
		cancel()
		if first < 0 {
			log.Fatalf("lookup %d found no peer", i)
		}
		ours = append(ours, first)
	}
	fmt.Printf("effusion (anacrolix/dht): first peer after median %v, max %v over %d lookups\n",
		medianD(ours), slices.Max(ours), len(ours))
	if *hold > 0 {
		for _, ih := range ihs {
			fmt.Printf("announced %x\n", ih)
		}
		fmt.Printf("holding; bootstrap %s\n", strings.Join(addrs[:4], ","))
		for end := time.Now().Add(*hold); time.Now().Before(end); time.Sleep(10 * time.Second) {
			drops := map[string]uint64{}
			for _, n := range ns {
				for k, v := range n.Stats().Dropped {
					drops[k] += v
				}
			}
			fmt.Printf("dropped so far: %v\n", drops)
		}
	}
	if *withLT {
		lt, err := ltLookups(addrs[:4], ihs)
		if err != nil {
			fmt.Println("libtorrent:", err)
		} else {
			fmt.Printf("libtorrent 2.0 dht_get_peers: first reply with peers after median %v, max %v over %d lookups\n",
				medianD(lt), slices.Max(lt), len(lt))
		}
	}
	if *idle > 0 {
		self, _ := os.Executable()
		out, err := exec.Command(self, "-idle-node", strings.Join(addrs, ","), "-idle", idle.String()).Output()
		if err != nil {
			log.Fatalf("idle node: %v", err)
		}
		fmt.Print(string(out))
	}
}

// ltLookups runs libtorrent's get_peers for each info-hash in turn.
func ltLookups(boot []string, ihs [][20]byte) ([]time.Duration, error) {
	script := filepath.Join(os.TempDir(), "effusion-bench-lt-dht.py")
	if err := os.WriteFile(script, []byte(ltScript), 0o644); err != nil {
		return nil, err
	}
	var in []string
	for _, ih := range ihs {
		in = append(in, hex.EncodeToString(ih[:]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", script, strings.Join(boot, ","))
	cmd.Stdin = strings.NewReader(strings.Join(in, "\n") + "\n")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	var ds []time.Duration
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var ih string
		var secs float64
		if n, _ := fmt.Sscanf(sc.Text(), "FOUND %s %f", &ih, &secs); n == 2 { // the first reply with peers
			ds = append(ds, time.Duration(secs*float64(time.Second)))
		}
	}
	if len(ds) != len(ihs) {
		fmt.Printf("libtorrent found %d of %d info-hashes within 30 s each\n", len(ds), len(ihs))
	}
	return ds, nil
}

const ltScript = `
import sys, time
import libtorrent as lt
boot = sys.argv[1]
s = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': True, 'enable_lsd': False,
    'enable_upnp': False, 'enable_natpmp': False, 'dht_bootstrap_nodes': boot,
    'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
    'dht_ignore_dark_internet': False, 'dht_prefer_verified_node_ids': False, 'dht_enforce_node_id': False,
    # Every node here is 127.0.0.1: libtorrent's per-IP flood ban (dht_block_ratelimit
    # packets a second) would ban them all after the first lookup.
    'dht_block_ratelimit': 1000000,
    'alert_mask': lt.alert_category.dht | lt.alert_category.dht_operation})
for b in boot.split(','):
    h, p = b.rsplit(':', 1)
    s.add_dht_node((h, int(p)))
time.sleep(3)  # let it bootstrap, as our nodes did before their lookups
for line in sys.stdin:
    ih = line.strip()
    t0 = time.time(); done = False; asked = 0; n = 0
    while not done and time.time() - t0 < 30:
        if time.time() - asked > 2:  # a traversal that found nothing is asked again
            s.dht_get_peers(lt.sha1_hash(bytes.fromhex(ih))); asked = time.time(); n += 1
        for a in s.pop_alerts():
            if not done and isinstance(a, lt.dht_get_peers_reply_alert) and str(a.info_hash) == ih and a.num_peers() > 0:
                print('FOUND %s %.6f %d' % (ih, time.time() - t0, n), flush=True); done = True
        if not done:
            s.wait_for_alert(50)
    if not done:
        print('MISSED %s' % ih, flush=True)
`

// runIdle is the child: one node joins the DHT, fills its table, then
// idles; it reports its table, resident memory and CPU over the idle window.
func runIdle(boot []string, idle time.Duration) {
	ctx := context.Background()
	n, err := dht.New(ctx, dht.Config{Listen: "127.0.0.1:0", Bootstrap: boot})
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	n.WaitBootstrap(ctx)
	// Searches toward random targets fill the table as a long-running node's is.
	for range 10 {
		var ih [20]byte
		rand.Read(ih[:])
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n.Search(sctx, ih, dht.SearchOptions{})
		cancel()
	}
	runtime.GC()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	time.Sleep(idle)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := n.Stats()
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	res := map[string]any{
		"table_nodes": st.Nodes, "good_nodes": st.GoodNodes, "idle_seconds": idle.Seconds(),
		"cpu_ms": cpu.Milliseconds(), "cpu_percent": 100 * cpu.Seconds() / idle.Seconds(),
		"max_rss_kib": ru1.Maxrss, "heap_inuse_kib": ms.HeapInuse >> 10, "goroutines": runtime.NumGoroutine(),
	}
	b, _ := json.Marshal(res)
	fmt.Printf("idle node: %s\n", b)
}

func cpuName() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for l := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			_, v, _ := strings.Cut(l, ":")
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func median(v []int) int {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianD(v []time.Duration) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

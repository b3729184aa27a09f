package tracker

import (
	"context"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// needBinary skips when an interop binary is missing, except under CI=true.
func needBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (required when CI=true)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startOpentracker runs opentracker on loopback with infoHash whitelisted
// and returns its HTTP and UDP announce URLs.
func startOpentracker(t *testing.T, infoHash [20]byte) (string, string) {
	bin := needBinary(t, "opentracker")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	wl := filepath.Join(dir, "whitelist")
	if err := os.WriteFile(wl, []byte(hex.EncodeToString(infoHash[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(wl, 0o644)
	hp, up := freePort(t, "tcp"), freePort(t, "udp")
	cmd := exec.Command(bin, "-i", "127.0.0.1", "-p", strconv.Itoa(hp), "-P", strconv.Itoa(up), "-d", dir, "-w", "/whitelist")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(hp)
	// Ready means listening and the whitelist loaded (opentracker reads it
	// after it starts listening): poll with a "stopped" announce of a probe
	// peer (accepted, and registers nothing, once the hash is allowed),
	// bounded to 5 s.
	c := NewClient(Options{Timeout: time.Second})
	for i := 0; ; i++ {
		_, err := c.Announce(context.Background(), "http://"+addr+"/announce",
			AnnounceRequest{InfoHash: infoHash, PeerID: fill('z'), Port: 9, Event: EventStopped})
		if err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("opentracker not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + addr + "/announce", "udp://127.0.0.1:" + strconv.Itoa(up) + "/announce"
}

func TestOpentrackerInterop(t *testing.T) {
	ih := fill(0x5a)
	httpURL, udpURL := startOpentracker(t, ih)
	c := NewClient(Options{Timeout: 10 * time.Second, UDPBase: 500 * time.Millisecond, UDPRetries: 3})
	ctx := context.Background()
	for i, u := range []string{httpURL, udpURL} {
		seed := AnnounceRequest{InfoHash: ih, PeerID: fill(byte('a' + 2*i)), Port: uint16(5000 + 10*i), Left: 0, Event: EventStarted}
		leech := AnnounceRequest{InfoHash: ih, PeerID: fill(byte('b' + 2*i)), Port: uint16(5001 + 10*i), Left: 100, Event: EventStarted}
		if _, err := c.Announce(ctx, u, seed); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		r, err := c.Announce(ctx, u, leech)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), seed.Port)
		if !slices.Contains(r.Peers, want) {
			t.Fatalf("%s: peers %v lack the seed %v", u, r.Peers, want)
		}
		if r.Interval < time.Minute || r.Complete < 1 || r.Incomplete < 1 {
			t.Fatalf("%s: %+v", u, r)
		}
		st, err := c.Scrape(ctx, u, ih)
		if err != nil {
			t.Fatalf("%s scrape: %v", u, err)
		}
		if s := st[ih]; s.Complete < 1 || s.Incomplete < 1 {
			t.Fatalf("%s scrape %+v", u, st)
		}
		leech.Event = EventStopped
		if _, err := c.Announce(ctx, u, leech); err != nil {
			t.Fatalf("%s stopped: %v", u, err)
		}
	}
	// A torrent not on the whitelist is refused with a failure reason (HTTP).
	_, err := c.Announce(ctx, httpURL, AnnounceRequest{InfoHash: fill(1), PeerID: fill(2), Port: 1})
	if err == nil {
		t.Fatal("non-whitelisted torrent accepted")
	}
}

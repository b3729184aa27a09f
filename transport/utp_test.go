package transport

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/utp"
)

// nameHandler answers handshakes like echoHandler and records the
// transport of each connection it was handed.
type nameHandler struct {
	echoHandler
	mu    sync.Mutex
	names []string
}

func (n *nameHandler) ServeIncoming(ctx context.Context, c net.Conn, h peerwire.Handshake) error {
	n.mu.Lock()
	n.names = append(n.names, Name(c))
	n.mu.Unlock()
	return n.echoHandler.ServeIncoming(ctx, c, h)
}

func (n *nameHandler) seen() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.names...)
}

// peerSocket is a uTP socket of another peer on loopback.
func peerSocket(t *testing.T) *utp.Socket {
	t.Helper()
	s, err := utp.Listen("udp4", "127.0.0.1:0", utp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// peerSocketAt is a uTP socket on 127.0.0.1:port.
func peerSocketAt(t *testing.T, port int) *utp.Socket {
	t.Helper()
	s, err := utp.Listen("udp4", "127.0.0.1:"+strconv.Itoa(port), utp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ours(ih [20]byte) peerwire.Handshake {
	return peerwire.Handshake{InfoHash: ih, PeerID: [20]byte{'u', 's'}}
}

// TestListenerUTP: with UTP the listener opens uTP on the TCP port's number;
// uTP connections, plain and MSE, go through the same routing, counts and
// handlers as TCP ones, and Name tells them apart.
func TestListenerUTP(t *testing.T) {
	l := listen(t, ListenConfig{UTP: true})
	socks := l.UTPSockets()
	if len(socks) != 1 {
		t.Fatalf("%d uTP sockets for 127.0.0.1, want 1", len(socks))
	}
	if p := socks[0].Addr().(*net.UDPAddr).Port; p != int(l.Addr().Port()) {
		t.Fatalf("uTP on UDP port %d, TCP on %d", p, l.Addr().Port())
	}
	ih := [20]byte{'u'}
	h := &nameHandler{}
	if err := l.Register(ih, h); err != nil {
		t.Fatal(err)
	}
	d := NewDialer(0, netip.Addr{})
	d.SetUTP(peerSocket(t))
	for _, tc := range []struct {
		mode   Mode
		policy mse.Policy
		want   string
	}{{UTP, mse.Off, NameUTP}, {UTP, mse.Require, NameUTP}, {TCP, mse.Require, NameTCP}, {Both, mse.Prefer, NameUTP}} {
		d.SetMode(tc.mode)
		d.SetEncryption(tc.policy)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		c, theirs, err := d.DialPeer(ctx, l.Addr(), ours(ih))
		cancel()
		if err != nil {
			t.Fatalf("%v/%v: %v", tc.mode, tc.policy, err)
		}
		if theirs.InfoHash != ih || Name(c) != tc.want {
			t.Fatalf("%v/%v: handshake for %x over %s, want %s", tc.mode, tc.policy, theirs.InfoHash, Name(c), tc.want)
		}
		if mc, ok := c.(*mse.Conn); ok != (tc.policy == mse.Require) || ok && !mc.Encrypted() {
			t.Fatalf("%v/%v: got %T", tc.mode, tc.policy, c)
		}
		c.Close()
	}
	waitFor(t, func() bool { return len(h.seen()) == 4 })
	if got := h.seen(); got[0] != NameUTP || got[1] != NameUTP || got[2] != NameTCP || got[3] != NameUTP {
		t.Fatalf("handler saw transports %v", got)
	}
	if c := l.Counts(); c.Encrypted != 2 || c.Plain != 2 {
		t.Fatalf("counts %+v, want 2 encrypted and 2 plain", c)
	}
	// Unknown torrents over uTP are refused like TCP ones.
	d.SetMode(UTP)
	d.SetEncryption(mse.Off)
	if _, _, err := d.DialPeer(t.Context(), l.Addr(), ours([20]byte{'?'})); err == nil {
		t.Fatal("an unknown info-hash over uTP got an answer")
	}
	if c := l.Counts(); c.Unknown != 1 {
		t.Fatalf("counts %+v, want 1 unknown", c)
	}
	// An IPv6 peer with only an IPv4 uTP socket: not reached in UTP mode.
	if _, _, err := d.DialPeer(t.Context(), netip.AddrPortFrom(netip.IPv6Loopback(), l.Addr().Port()), ours(ih)); !errors.Is(err, ErrNoUTP) {
		t.Fatalf("IPv6 peer in UTP mode with an IPv4 socket: %v", err)
	}
}

// TestDialerBothFallsBackToTCP: a peer without uTP is dialled over TCP
// after the head start (the uTP dial then cancelled), or as soon as uTP
// fails; TCP is then remembered for it, and a PEX hint overrides that. A
// peer that answers neither is not remembered as TCP-only.
func TestDialerBothFallsBackToTCP(t *testing.T) {
	l := listen(t, ListenConfig{}) // TCP only: nothing answers uTP on its port
	ih := [20]byte{'t'}
	l.Register(ih, &nameHandler{})
	for _, tc := range []struct {
		name             string
		first, headStart time.Duration
	}{{"head start", time.Hour, 50 * time.Millisecond}, {"uTP timeout", 50 * time.Millisecond, time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDialer(0, netip.Addr{})
			d.first, d.headStart = tc.first, tc.headStart
			d.SetUTP(peerSocket(t))
			d.SetEncryption(mse.Off)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, _, err := d.DialPeer(ctx, l.Addr(), ours(ih))
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if Name(c) != NameTCP || d.paths.get(l.Addr()) != pathTCP {
				t.Fatalf("fell back to %s, remembered %v", Name(c), d.paths.get(l.Addr()))
			}
			// The second dial goes straight to TCP.
			d.first, d.headStart = time.Hour, time.Hour
			c, _, err = d.DialPeer(ctx, l.Addr(), ours(ih))
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		})
	}
	// A hint (PEX said uTP) overrides: uTP is tried first again, alone,
	// and TCP when uTP fails (here refused: a socket on the peer's UDP
	// port that accepts nothing).
	refuser := peerSocketAt(t, int(l.Addr().Port()))
	refuser.Listener().Close()
	d := NewDialer(0, netip.Addr{})
	d.first, d.headStart = time.Hour, time.Hour
	d.SetUTP(peerSocket(t))
	d.SetEncryption(mse.Off)
	d.HintUTP(l.Addr())
	if !d.PrefersUTP(l.Addr()) {
		t.Fatal("hint not recorded")
	}
	c, _, err := d.DialPeer(t.Context(), l.Addr(), ours(ih))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if Name(c) != NameTCP || d.PrefersUTP(l.Addr()) {
		t.Fatalf("hinted peer refusing uTP: reached over %s, still preferring uTP %v", Name(c), d.PrefersUTP(l.Addr()))
	}
	// Nothing listening at all: both fail, nothing learnt.
	d = NewDialer(0, netip.Addr{})
	d.first, d.headStart = 100*time.Millisecond, time.Hour
	d.SetUTP(peerSocket(t))
	dead := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(freeTCPPort(t)))
	if _, _, err := d.DialPeer(t.Context(), dead, ours(ih)); err == nil {
		t.Fatal("dialled a dead port")
	}
	if st := d.paths.get(dead); st != pathUnknown {
		t.Fatalf("a dead peer remembered as %v", st)
	}
}

// TestDialerUTPOnly: in UTP mode a peer without uTP is not reached over
// TCP.
func TestDialerUTPOnly(t *testing.T) {
	l := listen(t, ListenConfig{})
	ih := [20]byte{'o'}
	l.Register(ih, &nameHandler{})
	d := NewDialer(0, netip.Addr{})
	d.SetUTP(peerSocket(t))
	d.SetMode(UTP)
	d.SetEncryption(mse.Off)
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	if c, _, err := d.DialPeer(ctx, l.Addr(), ours(ih)); err == nil {
		c.Close()
		t.Fatalf("reached a TCP-only peer over %s in uTP mode", Name(c))
	}
}

// TestListenUTPPortTaken: an explicit port whose UDP side is taken fails
// with EADDRINUSE; port 0 finds a port free for both.
func TestListenUTPPortTaken(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	_, err = Listen(t.Context(), ListenConfig{Addr: "127.0.0.1:" + strconv.Itoa(port), UTP: true, Logger: quiet()})
	if err == nil || !isAddrInUse(err) {
		t.Fatalf("listen on a taken UDP port: %v", err)
	}
	l := listen(t, ListenConfig{UTP: true})
	if len(l.UTPSockets()) != 1 {
		t.Fatal("no uTP socket")
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"both", "tcp", "utp"} {
		m, err := ParseMode(s)
		if err != nil || m.String() != s {
			t.Fatalf("%q: %v %v", s, m, err)
		}
	}
	if _, err := ParseMode("quic"); !errors.Is(err, ErrBadMode) {
		t.Fatalf("quic: %v", err)
	}
	var m Mode
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(&m, "transport", "")
	if err := fs.Parse([]string{"--transport", "utp"}); err != nil || m != UTP {
		t.Fatalf("flag: %v %v", m, err)
	}
	if Mode(9).String() != "mode(9)" {
		t.Fatal(Mode(9).String())
	}
}

func TestPathsBounded(t *testing.T) {
	var p paths
	for i := range maxPaths + 10 {
		p.set(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1), pathUTP)
	}
	if p.len() != maxPaths {
		t.Fatalf("%d remembered", p.len())
	}
	if p.get(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 0}), 1)) != pathUnknown {
		t.Fatal("the oldest address was kept")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// TestListenUTPBothFamilies: an unspecified address gets uTP over IPv4
// first (the DHT's socket) and, where the host has IPv6, over IPv6 on the
// same port; the dialer picks the socket of the peer's family.
func TestListenUTPBothFamilies(t *testing.T) {
	l, err := Listen(t.Context(), ListenConfig{Addr: ":0", UTP: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	socks := l.UTPSockets()
	if len(socks) == 0 || socks[0].Addr().(*net.UDPAddr).IP.To4() == nil {
		t.Fatalf("sockets %v: want IPv4 first", socks)
	}
	ih := [20]byte{'6'}
	h := &nameHandler{}
	l.Register(ih, h)
	targets := []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), l.Addr().Port())}
	d := NewDialer(0, netip.Addr{})
	peers := []*utp.Socket{peerSocket(t)}
	if len(socks) == 2 {
		if socks[1].Addr().(*net.UDPAddr).IP.To4() != nil || socks[1].Addr().(*net.UDPAddr).Port != int(l.Addr().Port()) {
			t.Fatalf("second socket %v", socks[1].Addr())
		}
		s6, err := utp.Listen("udp6", "[::1]:0", utp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer s6.Close()
		peers = append(peers, s6)
		targets = append(targets, netip.AddrPortFrom(netip.IPv6Loopback(), l.Addr().Port()))
	} else {
		t.Log("no IPv6 on this host: uTP over IPv4 only")
	}
	d.SetUTP(peers...)
	d.SetMode(UTP)
	d.SetEncryption(mse.Off)
	for _, a := range targets {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		c, _, err := d.DialPeer(ctx, a, ours(ih))
		cancel()
		if err != nil {
			t.Fatalf("%v: %v", a, err)
		}
		if Name(c) != NameUTP {
			t.Fatalf("%v over %s", a, Name(c))
		}
		c.Close()
	}
}

package transport

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/peerwire"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoHandler answers the handshake with ours and records the info-hashes
// it served; it keeps the connection until the peer closes it.
type echoHandler struct {
	mu   sync.Mutex
	seen [][20]byte
}

func (e *echoHandler) ServeIncoming(ctx context.Context, c net.Conn, h peerwire.Handshake) error {
	e.mu.Lock()
	e.seen = append(e.seen, h.InfoHash)
	e.mu.Unlock()
	ours := peerwire.Handshake{InfoHash: h.InfoHash, PeerID: [20]byte{9}}
	if err := peerwire.WriteHandshake(c, ours); err != nil {
		return err
	}
	if err := peerwire.ReadHandshakePeerID(c, &h); err != nil {
		return err
	}
	c.SetDeadline(time.Time{})
	io.Copy(io.Discard, c)
	return nil
}

func (e *echoHandler) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.seen)
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func listen(t *testing.T, cfg ListenConfig) *Listener {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = quiet()
	l, err := Listen(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// dialFrom connects to l from the loopback address src.
func dialFrom(t *testing.T, l *Listener, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// handshake sends a whole handshake for ih and reads the answer.
func handshake(c net.Conn, ih [20]byte) (peerwire.Handshake, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := peerwire.WriteHandshake(c, peerwire.Handshake{InfoHash: ih, PeerID: [20]byte{1}}); err != nil {
		return peerwire.Handshake{}, err
	}
	return peerwire.ReadHandshake(c)
}

// closedByServer reports whether the server closed c (EOF or reset)
// within d.
func closedByServer(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

func TestListenerRoutesByInfoHash(t *testing.T) {
	l := listen(t, ListenConfig{})
	a, b := &echoHandler{}, &echoHandler{}
	if err := l.Register([20]byte{'a'}, a); err != nil {
		t.Fatal(err)
	}
	if err := l.Register([20]byte{'b'}, b); err != nil {
		t.Fatal(err)
	}
	if err := l.Register([20]byte{'a'}, b); err == nil {
		t.Fatal("a second handler registered for one info-hash")
	}
	for _, ih := range [][20]byte{{'a'}, {'b'}, {'b'}} {
		h, err := handshake(dialFrom(t, l, "127.0.0.1"), ih)
		if err != nil || h.InfoHash != ih {
			t.Fatalf("handshake for %q: %v", ih[0], err)
		}
	}
	if a.count() != 1 || b.count() != 2 {
		t.Fatalf("routed %d to a, %d to b; want 1 and 2", a.count(), b.count())
	}
	// Unknown torrent: closed without an answer.
	if _, err := handshake(dialFrom(t, l, "127.0.0.1"), [20]byte{'z'}); err == nil {
		t.Fatal("an unknown info-hash got an answer")
	}
	l.Unregister([20]byte{'a'}, b) // not a's handler: no effect
	l.Unregister([20]byte{'a'}, a)
	if _, err := handshake(dialFrom(t, l, "127.0.0.1"), [20]byte{'a'}); err == nil {
		t.Fatal("an unregistered info-hash got an answer")
	}
}

// TestListenerHalfOpenPerIP: connections from one address that have not
// sent their handshake are capped; the excess is closed at once, and other
// addresses (and that address's next handshake once room is made) are
// served.
func TestListenerHalfOpenPerIP(t *testing.T) {
	l := listen(t, ListenConfig{MaxHalfOpenPerIP: 4})
	h := &echoHandler{}
	l.Register([20]byte{'x'}, h)
	var idle []net.Conn
	for range 4 {
		idle = append(idle, dialFrom(t, l, "127.0.0.1"))
	}
	// Wait until the four are counted (accepted and waiting for bytes).
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.RLock()
		n := l.halfOpen[netip.MustParseAddr("127.0.0.1")]
		l.mu.RUnlock()
		if n == 4 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	extra := dialFrom(t, l, "127.0.0.1")
	if !closedByServer(extra, 5*time.Second) {
		t.Fatal("a fifth half-open connection from one address was kept")
	}
	if _, err := handshake(dialFrom(t, l, "127.0.0.2"), [20]byte{'x'}); err != nil {
		t.Fatalf("another address was refused: %v", err)
	}
	idle[0].Close()
	// Its slot comes back once the server sees it gone.
	var err error
	for time.Now().Before(deadline) {
		if _, err = handshake(dialFrom(t, l, "127.0.0.1"), [20]byte{'x'}); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no handshake from the capped address after one closed: %v", err)
}

// TestListenerFirstByteDeadline: a connection that does not send its first
// bytes (enough to tell plain from MSE) is closed after the first-byte
// time-out; one that starts in time keeps the whole handshake time-out for
// the rest.
func TestListenerFirstByteDeadline(t *testing.T) {
	l := listen(t, ListenConfig{})
	l.timeout = 50 * time.Millisecond
	h := &echoHandler{}
	l.Register([20]byte{'x'}, h)
	silent := dialFrom(t, l, "127.0.0.1")
	if !closedByServer(silent, 5*time.Second) {
		t.Fatal("a silent connection was not closed")
	}
	slow := dialFrom(t, l, "127.0.0.1")
	hs := peerwire.AppendHandshake(nil, peerwire.Handshake{InfoHash: [20]byte{'x'}, PeerID: [20]byte{1}})
	slow.Write(hs[:mse.PeekLen])
	time.Sleep(300 * time.Millisecond) // six first-byte time-outs
	slow.Write(hs[mse.PeekLen:])
	slow.SetDeadline(time.Now().Add(10 * time.Second))
	if got, err := peerwire.ReadHandshake(slow); err != nil || got.InfoHash != [20]byte{'x'} {
		t.Fatalf("a handshake that started in time was cut: %v", err)
	}
}

// FuzzRoute feeds arbitrary first bytes to the listener's routing: it must
// never panic, and a handler is reached only through a well-formed header
// naming its info-hash.
func FuzzRoute(f *testing.F) {
	f.Add(peerwire.AppendHandshake(nil, peerwire.Handshake{InfoHash: [20]byte{'x'}}))
	f.Add(peerwire.AppendHandshake(nil, peerwire.Handshake{InfoHash: [20]byte{'y'}}))
	f.Add([]byte("\x13BitTorrent protocol"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		l := &Listener{log: quiet(), perIP: 4, timeout: time.Second,
			handlers: map[[20]byte]Handler{}, skeys: map[[20]byte][20]byte{}, halfOpen: map[netip.Addr]int{}}
		h := &echoHandler{}
		l.handlers[[20]byte{'x'}] = h
		a, b := net.Pipe()
		var wg sync.WaitGroup
		wg.Go(func() { io.Copy(io.Discard, b) })
		wg.Go(func() {
			b.Write(in)
			b.Close()
		})
		l.route(context.Background(), a)
		a.Close()
		wg.Wait()
		if h.count() > 0 {
			hs, err := peerwire.ParseHandshake(append(append([]byte(nil), in...), make([]byte, 68)...)[:68])
			if err != nil || hs.InfoHash != [20]byte{'x'} {
				t.Fatalf("handler reached for input %q", in)
			}
		}
		if len(l.halfOpen) != 0 {
			t.Fatalf("half-open count leaked: %v", l.halfOpen)
		}
	})
}

// TestListenerEncryptionPolicy: incoming plain and MSE handshakes are let
// in or refused as the policy says, the torrent found by its SKEY hash, and
// the handler gets a decrypting connection for RC4.
func TestListenerEncryptionPolicy(t *testing.T) {
	ih := [20]byte{'e'}
	for _, c := range []struct {
		policy      mse.Policy
		plain, msed bool // accepted
	}{
		{mse.Prefer, true, true},
		{mse.Require, false, true},
		{mse.Off, true, false},
	} {
		t.Run(c.policy.String(), func(t *testing.T) {
			l := listen(t, ListenConfig{Encryption: c.policy})
			h := &echoHandler{}
			l.Register(ih, h)
			_, err := handshake(dialFrom(t, l, "127.0.0.1"), ih)
			if (err == nil) != c.plain {
				t.Errorf("plain handshake: %v, want accepted %v", err, c.plain)
			}
			d := NewDialer(0, netip.Addr{})
			d.SetEncryption(mse.Require)
			conn, theirs, err := d.DialPeer(t.Context(), l.Addr(), peerwire.Handshake{InfoHash: ih, PeerID: [20]byte{1}})
			if (err == nil) != c.msed {
				t.Fatalf("MSE handshake: %v, want accepted %v", err, c.msed)
			}
			if err == nil {
				mc, ok := conn.(*mse.Conn)
				if !ok || !mc.Encrypted() || theirs.InfoHash != ih {
					t.Errorf("MSE dial gave %T (encrypted %v)", conn, ok && mc.Encrypted())
				}
				conn.Close()
			}
			n := l.Counts()
			if n.Refused != 1 && !(c.policy == mse.Prefer && n.Refused == 0) {
				t.Errorf("counts %+v", n)
			}
		})
	}
}

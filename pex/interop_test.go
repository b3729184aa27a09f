package pex

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/peerwire"
)

// ltPeer is one of our raw peer-wire endpoints facing libtorrent.
type ltPeer struct {
	ln    net.Listener
	addr  netip.AddrPort
	ih    [20]byte
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// listen opens the peer's listener; start serves it.
func listen(t *testing.T, ih [20]byte) *ltPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &ltPeer{ln: ln, addr: netip.MustParseAddrPort(ln.Addr().String()), ih: ih}
}

// start accepts connections, answers the handshakes and runs serve on
// each, until the test's cleanup.
func (p *ltPeer) start(t *testing.T, serve func(c net.Conn, r *peerwire.Reader, theirPex uint8) error) {
	ln := p.ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(120 * time.Second)) // a guard, not a timing
				r, theirPex, err := p.handshake(c)
				if err == nil {
					err = serve(c, r, theirPex)
				}
				if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					t.Logf("%v: %v", p.addr, err)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
}

// handshake answers libtorrent's handshake, announces ut_pex (our id 1)
// and returns libtorrent's ut_pex id from its extended handshake.
func (p *ltPeer) handshake(c net.Conn) (*peerwire.Reader, uint8, error) {
	theirs, err := peerwire.ReadHandshake(c)
	if err != nil {
		return nil, 0, err
	}
	if theirs.InfoHash != p.ih || !theirs.SupportsExtended() {
		return nil, 0, fmt.Errorf("handshake %+v", theirs)
	}
	ours := peerwire.Handshake{InfoHash: p.ih}
	copy(ours.PeerID[:], fmt.Sprintf("-EF0001-pex%09d", p.addr.Port()))
	ours.SetExtended()
	if err := peerwire.WriteHandshake(c, ours); err != nil {
		return nil, 0, err
	}
	ext := peerwire.ExtendedHandshake{M: map[string]int{"ut_pex": 1}, P: int(p.addr.Port()), V: "effusion-test"}
	if _, err := c.Write(peerwire.AppendExtended(nil, 0, ext.Marshal())); err != nil {
		return nil, 0, err
	}
	r := peerwire.NewReader(c, peerwire.ReaderOptions{})
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return nil, 0, err
		}
		if m.ID == peerwire.MsgExtended && m.ExtID == 0 {
			h, err := peerwire.ParseExtendedHandshake(m.ExtPayload)
			if err != nil {
				return nil, 0, err
			}
			return r, uint8(h.M["ut_pex"]), nil
		}
	}
}

// TestInteropLibtorrent exchanges PEX with a real libtorrent downloading a
// magnet link whose peers, in x.pe, are our peers A and C. A tells
// libtorrent about peer B with a message from Conn.Outgoing encoded by
// peerwire.AppendPex, and libtorrent dials B; libtorrent's own PEX message
// to A, decoded by peerwire.ParsePex and taken by Conn.Incoming, names C
// (and A, ours, is left out).
func TestInteropLibtorrent(t *testing.T) {
	python := testpeer.Python(t)
	var ih [20]byte
	rand.Read(ih[:])

	stay := func(c net.Conn, r *peerwire.Reader, _ uint8) error {
		for {
			if _, err := r.ReadMessage(); err != nil {
				return err
			}
		}
	}
	dialled := make(chan netip.AddrPort, 4)
	a, b, c := listen(t, ih), listen(t, ih), listen(t, ih)
	b.start(t, func(c net.Conn, r *peerwire.Reader, x uint8) error {
		dialled <- netip.MustParseAddrPort(c.LocalAddr().String())
		return stay(c, r, x)
	})
	c.start(t, stay)
	learned := make(chan []peerwire.PexPeer, 4)
	a.start(t, func(c net.Conn, r *peerwire.Reader, theirPex uint8) error {
		if theirPex == 0 {
			return fmt.Errorf("libtorrent does not announce ut_pex")
		}
		swarm := NewSwarm(Config{IsSelf: func(x netip.AddrPort) bool { return x == a.addr }})
		swarm.Connected(b.addr, peerwire.PexReachable)
		lt := netip.MustParseAddrPort(c.RemoteAddr().String())
		swarm.Connected(lt, 0)
		conn := swarm.NewConn(lt)
		var out peerwire.Pex
		if !conn.Outgoing(0, &out) {
			return fmt.Errorf("no PEX message to send")
		}
		if _, err := c.Write(peerwire.AppendPex(nil, theirPex, &out)); err != nil {
			return err
		}
		start := time.Now()
		var in peerwire.Pex
		for {
			m, err := r.ReadMessage()
			if err != nil {
				return err
			}
			if m.ID != peerwire.MsgExtended || m.ExtID != 1 {
				continue
			}
			if err := peerwire.ParsePex(m.ExtPayload, &in); err != nil {
				return fmt.Errorf("libtorrent's PEX: %v", err)
			}
			got, err := conn.Incoming(time.Since(start), &in, nil)
			if err != nil {
				return err
			}
			t.Logf("%v: PEX from libtorrent: added %v dropped %v, taken %v", time.Since(start), in.Added, in.Dropped, got)
			learned <- got
		}
	})

	mg := metainfo.Magnet{InfoHash: ih, HasV1: true, Peers: []string{a.addr.String(), c.addr.String()}}
	lt := testpeer.Start(t, "", python, "testdata/lt_magnet.py", mg.String(), t.TempDir())
	lt.WaitLine(t, "PORT ", 60*time.Second)

	guard := time.NewTimer(90 * time.Second) // a guard against a hung peer, not a timing
	defer guard.Stop()
	select {
	case got := <-dialled:
		if got != b.addr {
			t.Fatalf("libtorrent dialled %v, want %v", got, b.addr)
		}
	case <-guard.C:
		t.Fatalf("libtorrent never dialled B (%v), learned only through our PEX\n%s", b.addr, lt.Output())
	}
	for {
		select {
		case got := <-learned:
			if slices.ContainsFunc(got, func(p peerwire.PexPeer) bool { return p.Addr == a.addr }) {
				t.Fatalf("took our own address: %v", got)
			}
			if slices.ContainsFunc(got, func(p peerwire.PexPeer) bool { return p.Addr == c.addr }) {
				return
			}
		case <-guard.C:
			t.Fatalf("libtorrent's PEX never named C\n%s", lt.Output())
		}
	}
}

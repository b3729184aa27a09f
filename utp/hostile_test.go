package utp

import (
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// rawPeer sends hand-made datagrams from its own address on a memNet.
type rawPeer struct {
	c *memConn
}

func (r rawPeer) send(t *testing.T, to netip.AddrPort, h header, payload []byte) {
	t.Helper()
	b := make([]byte, hdrSlot+len(payload))
	n := putHeader(b, &h, nil, 0)
	n += copy(b[n:], payload)
	if _, err := r.c.WriteTo(b[:n], net.UDPAddrFromAddrPort(to)); err != nil {
		t.Fatal(err)
	}
}

// recv returns the next datagram's header, or false when none arrives
// within a second.
func (r rawPeer) recv() (packet, bool) {
	r.c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, maxDatagram)
	n, _, err := r.c.ReadFrom(buf)
	if err != nil {
		return packet{}, false
	}
	var p packet
	if parsePacket(buf[:n], &p) != nil {
		return packet{}, false
	}
	return p, true
}

// A SYN flood from spoofed addresses fills at most MaxHalfOpen entries,
// Accept returns none of them, and they expire after HalfOpenTimeout.
func TestSynFloodBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		s, _ := New(n.listen(), Config{MaxHalfOpen: 16, HalfOpenTimeout: 5 * time.Second})
		defer s.Close()
		r := rawPeer{n.listen()}
		defer r.c.Close()
		for i := 0; i < 1000; i++ {
			r.send(t, addrOf(s), header{typ: stSyn, connID: uint16(i * 2), seq: 1}, nil)
		}
		synctest.Wait()
		st := s.Stats()
		half, total := st.HalfOpen, st.Conns
		if half != 16 || total != 16 {
			t.Fatalf("half-open %d, table %d, want 16", half, total)
		}
		if dropped := s.stats.synDropped.Load(); dropped != 984 {
			t.Fatalf("%d SYNs dropped, want 984", dropped)
		}
		select {
		case c := <-s.acceptCh:
			t.Fatalf("accepted %v from a flood", c.RemoteAddr())
		default:
		}
		time.Sleep(6 * time.Second)
		s.mu.RLock()
		half, total = s.halfOpen, len(s.conns)
		s.mu.RUnlock()
		if half != 0 || total != 0 {
			t.Fatalf("after the timeout: half-open %d, table %d", half, total)
		}
	})
}

// An initiator that answers with the wrong ack (a blind spoofer guessing
// our sequence number) is never accepted; the right ack is.
func TestHalfOpenNeedsOurSeq(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		s, _ := New(n.listen(), Config{})
		defer s.Close()
		r := rawPeer{n.listen()}
		defer r.c.Close()
		r.send(t, addrOf(s), header{typ: stSyn, connID: 100, seq: 500, wnd: 1 << 20}, nil)
		st, ok := r.recv()
		if !ok || st.typ != stState || st.connID != 100 || st.ack != 500 {
			t.Fatalf("SYN answer %+v %v", st.header, ok)
		}
		r.send(t, addrOf(s), header{typ: stData, connID: 101, seq: 501, ack: st.seq + 7, wnd: 1 << 20}, []byte("x"))
		synctest.Wait()
		if len(s.acceptCh) != 0 {
			t.Fatal("accepted with a wrong ack")
		}
		r.send(t, addrOf(s), header{typ: stData, connID: 101, seq: 501, ack: st.seq - 1, wnd: 1 << 20}, []byte("x"))
		synctest.Wait()
		if len(s.acceptCh) != 1 {
			t.Fatal("not accepted with the right ack")
		}
		c := <-s.acceptCh
		buf := make([]byte, 1)
		if _, err := c.Read(buf); err != nil || buf[0] != 'x' {
			t.Fatalf("read %q %v", buf, err)
		}
		c.Close()
	})
}

// Packets for unknown connections get a RESET; a RESET gets nothing; wrong
// versions and garbage are counted and ignored.
func TestUnknownAndMalformed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		s, _ := New(n.listen(), Config{})
		defer s.Close()
		r := rawPeer{n.listen()}
		defer r.c.Close()
		r.send(t, addrOf(s), header{typ: stData, connID: 7, seq: 9}, []byte("x"))
		p, ok := r.recv()
		if !ok || p.typ != stReset || p.connID != 7 || p.ack != 9 {
			t.Fatalf("reply %+v %v", p.header, ok)
		}
		r.send(t, addrOf(s), header{typ: stReset, connID: 7}, nil)
		if p, ok := r.recv(); ok {
			t.Fatalf("answered a RESET with %+v", p.header)
		}
		bad := make([]byte, headerLen)
		putHeader(bad, &header{typ: stData}, nil, 0)
		bad[0] = stData<<4 | 2 // version 2: not uTP at all to the demultiplexer
		r.c.WriteTo(bad, net.UDPAddrFromAddrPort(addrOf(s)))
		ext := append([]byte(nil), bad...)
		ext[0], ext[1] = stData<<4|1, 1 // an extension running past the end
		r.c.WriteTo(ext, net.UDPAddrFromAddrPort(addrOf(s)))
		synctest.Wait()
		if s.stats.rxBad.Load() != 1 || s.stats.rxOther.Load() != 1 {
			t.Fatalf("bad %d other %d", s.stats.rxBad.Load(), s.stats.rxOther.Load())
		}
		if p, ok := r.recv(); ok {
			t.Fatalf("answered garbage with %+v", p.header)
		}
	})
}

// ACKs for sequence numbers never sent, and SACK bits past them, are
// ignored; the transfer goes on intact.
func TestForgedAcks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		n.delay = 5 * time.Millisecond
		_, b, d, acc := memPair(t, n, Config{})
		dc := d.(*Conn)
		// Forge from the acceptor's address: send through its socket's conn.
		forge := func(ack uint16, sack []byte) {
			dc.mu.Lock()
			h := header{typ: stState, connID: dc.key.id, ack: ack, wnd: 1 << 20}
			dc.mu.Unlock()
			buf := make([]byte, hdrSlot)
			k := putHeader(buf, &h, sack, 0)
			b.pc.WriteTo(buf[:k], net.UDPAddrFromAddrPort(addrOf(dc.s)))
		}
		stop, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			for {
				select {
				case <-stop:
					return
				default:
				}
				dc.mu.Lock()
				next := dc.sentNext
				dc.mu.Unlock()
				forge(next+10000, nil) // far enough that no packet sent meanwhile makes it valid
				forge(next+30000, []byte{0xff, 0xff, 0xff, 0xff})
				time.Sleep(2 * time.Millisecond)
			}
		}()
		defer func() {
			close(stop)
			<-stopped
		}()
		transfer(t, d, acc, 4<<20)
		acc.Close()
		if st := dc.Stats(); st.IgnoredForged == 0 {
			t.Fatalf("no forged ack seen: %+v", st)
		}
	})
}

// Whatever the peer sends, the receive path's memory stays within the
// receive buffer (duplicates, far-ahead sequence numbers, data past FIN).
func TestReceiveBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		cfg := Config{RecvBuffer: 200 << 10}
		_, _, d, acc := memPair(t, n, cfg)
		defer d.Close()
		ac := acc.(*Conn)
		ac.mu.Lock()
		base := ac.ackNr
		payload := make([]byte, 1380)
		var p packet
		for i := 0; i < 5000; i++ {
			p.header = header{typ: stData, seq: base + 2 + uint16(i*7), ack: ac.sentNext - 1, wnd: 1 << 20}
			p.payload = payload
			b := newTxBatch()
			ac.onPacket(b, &p, time.Now())
			b.msgs = b.msgs[:0]
			if ac.oooBytes+ac.rbuf.len() > cfg.RecvBuffer || ac.oooCount > oooCap {
				t.Fatalf("held %d bytes in %d packets", ac.oooBytes+ac.rbuf.len(), ac.oooCount)
			}
		}
		ac.mu.Unlock()
		acc.Close()
	})
}

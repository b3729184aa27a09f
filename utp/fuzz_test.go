package utp

import (
	"encoding/binary"
	"testing"
	"time"
)

// FuzzConnReceive drives an established connection with data in flight
// through arbitrary packet sequences: sequence and ack numbers relative to
// its state (so the fuzzer reaches acks, SACK, reordering, FIN and window
// handling), timer firings, reads and writes. Invariants are checked after
// every step; nothing may panic.
//
// Record format: op, seq delta, ack delta, window (2 bytes), SACK length,
// SACK bytes, payload length, payload.
func FuzzConnReceive(f *testing.F) {
	f.Add([]byte{stData, 1, 0, 0xff, 0xff, 0, 10, 'h', 'e', 'l', 'l', 'o', 'w', 'o', 'r', 'l', 'd'})
	f.Add([]byte{stState, 0, 0, 0xff, 0xff, 0, 0, stState, 0, 3, 0xff, 0xff, 4, 0xff, 0, 0, 0, 0})
	f.Add([]byte{stData, 3, 0, 0x10, 0, 0, 3, 'a', 'b', 'c', stData, 2, 0, 0x10, 0, 0, 1, 'z', stFin, 4, 0, 0, 0, 0, 0, stData, 1, 0, 0, 0, 0, 1, 'q'})
	f.Add([]byte{stState, 0, 200, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{stReset, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{stSyn, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		n := newMemNet(1)
		pc := n.listen()
		defer pc.Close()
		cfg := Config{RecvBuffer: 64 << 10, SendBuffer: 64 << 10, MaxPacketSize: 400}
		s := newSocket(pc, cfg)
		now := time.Unix(1e9, 0)
		c := newConn(s, connKey{addrOf(s), 1}, 2, csConnected)
		c.seqNext = 60000
		c.seqBase, c.sentNext = c.seqNext, c.seqNext
		c.ackNr = 100
		s.conns[c.key] = c
		b := newTxBatch()
		c.mu.Lock()
		defer c.mu.Unlock()
		c.packetize(make([]byte, 5000))
		c.flush(b, now)
		s.flush(b)
		var p packet
		buf := make([]byte, hdrSlot+512)
		for len(data) >= 7 && c.state != csClosed {
			op := data[0]
			switch op {
			case 10: // timer
				now = now.Add(time.Duration(data[1]) * 100 * time.Millisecond)
				c.onTimer(b, now)
				data = data[7:]
				goto check
			case 11: // the user reads
				rd := make([]byte, int(data[1])*64)
				c.rbuf.read(rd, false)
				c.windowUpdate()
				data = data[7:]
				goto check
			case 12: // the user writes
				c.packetize(make([]byte, int(data[1])*64))
				c.flush(b, now)
				data = data[7:]
				goto check
			}
			{
				h := header{typ: op % 5, connID: c.key.id, seq: c.ackNr + uint16(int8(data[1])),
					ack: c.seqBase + uint16(int8(data[2])), wnd: uint32(binary.BigEndian.Uint16(data[3:5])) << 4}
				sl := int(data[5]) % (maxSackBytes + 1) &^ 3
				data = data[6:]
				if len(data) < sl+1 {
					return
				}
				sack := data[:sl]
				pl := min(int(data[sl]), len(data)-sl-1)
				payload := data[sl+1 : sl+1+pl]
				data = data[sl+1+pl:]
				k := putHeader(buf, &h, sack, 0)
				k += copy(buf[k:], payload)
				if err := parsePacket(buf[:k], &p); err != nil {
					continue
				}
				now = now.Add(time.Millisecond)
				c.onPacket(b, &p, now)
				c.afterRun(b, now)
			}
		check:
			s.flush(b)
			if c.state == csClosed {
				break
			}
			if c.inflight < 0 || c.lostCount < 0 || c.outBytes < 0 || c.outBytes > cfg.SendBuffer {
				t.Fatalf("send accounting: inflight %d lost %d out %d", c.inflight, c.lostCount, c.outBytes)
			}
			if c.rbuf.len()+c.oooBytes > s.cfg.RecvBuffer || c.oooCount < 0 || c.oooCount > oooCap {
				t.Fatalf("receive memory: %d + %d in %d", c.rbuf.len(), c.oooBytes, c.oooCount)
			}
			if int(c.seqNext-c.seqBase) >= len(c.out) || seqLess(c.sentNext, c.seqBase) || seqLess(c.seqNext, c.sentNext) {
				t.Fatalf("sequence window: base %d sent %d next %d ring %d", c.seqBase, c.sentNext, c.seqNext, len(c.out))
			}
			inflight := 0
			for q := c.seqBase; q != c.sentNext; q++ {
				o := &c.out[q&uint16(len(c.out)-1)]
				if o.tx > 0 && !o.acked && !o.lost {
					inflight += o.n
				}
			}
			if inflight != c.inflight {
				t.Fatalf("inflight %d, packets say %d", c.inflight, inflight)
			}
		}
		c.destroy(nil)
	})
}

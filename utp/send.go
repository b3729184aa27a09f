package utp

import "time"

// The send side of a Conn: packetizing writes, the windows, transmission,
// ACKs and SACK bitmasks. c.mu is held throughout (see proto.go).

// packetize copies as much of p as the send buffer takes into packets,
// appending first to the last packet if it is still unsent (coalescing),
// and returns the count.
func (c *Conn) packetize(p []byte) int {
	total := 0
	mask := uint16(len(c.out) - 1)
	if c.sentNext != c.seqNext {
		last := &c.out[(c.seqNext-1)&mask]
		if last.typ == stData && last.tx == 0 {
			room := min(c.mss, cap(*last.buf)) - last.n
			k := min(room, c.s.cfg.SendBuffer-c.outBytes, len(p))
			if k > 0 {
				copy((*last.buf)[last.n:], p[:k])
				last.n += k
				c.outBytes += k
				total += k
				p = p[k:]
			}
		}
	}
	for len(p) > 0 {
		space := min(c.s.cfg.SendBuffer-c.outBytes, 2*c.s.cfg.SendBuffer-c.outMem)
		if space <= 0 || !c.roomForPacket() {
			break
		}
		k := min(len(p), c.mss, space)
		buf := getBuf(min(c.mss, max(k, bufClasses[0])))
		copy(*buf, p[:k])
		mask = uint16(len(c.out) - 1)
		c.out[c.seqNext&mask] = outPacket{buf: buf, n: k, typ: stData}
		c.seqNext++
		c.outBytes += k
		c.outMem += cap(*buf)
		total += k
		p = p[k:]
	}
	return total
}

// roomForPacket makes room in the ring for one more sequence number,
// growing it; false at maxOut.
func (c *Conn) roomForPacket() bool {
	used := int(c.seqNext - c.seqBase)
	if used+1 < len(c.out) {
		return true
	}
	if len(c.out) >= maxOut {
		return false
	}
	n := make([]outPacket, 2*len(c.out))
	om, nm := uint16(len(c.out)-1), uint16(len(n)-1)
	for s := c.seqBase; s != c.seqNext; s++ {
		n[s&nm] = c.out[s&om]
	}
	c.out = n
	return true
}

// queueCtl appends a SYN or FIN (they take a sequence number).
func (c *Conn) queueCtl(typ uint8) {
	if !c.roomForPacket() {
		// maxOut reached: the FIN waits in a spare slot of the next size.
		n := make([]outPacket, 2*len(c.out))
		om, nm := uint16(len(c.out)-1), uint16(len(n)-1)
		for s := c.seqBase; s != c.seqNext; s++ {
			n[s&nm] = c.out[s&om]
		}
		c.out = n
	}
	c.out[c.seqNext&uint16(len(c.out)-1)] = outPacket{typ: typ}
	c.seqNext++
}

// flush transmits what the windows allow: retransmissions first, then new
// packets in order, holding a partial last packet while data is in flight
// (Nagle), then a bare ACK if one is owed and nothing carried it.
func (c *Conn) flush(b *txBatch, now time.Time) {
	if c.state == csClosed {
		return
	}
	sent := false
	mask := uint16(len(c.out) - 1)
	if c.lostCount > 0 {
		for s := c.seqBase; s != c.sentNext && c.lostCount > 0; s++ {
			o := &c.out[s&mask]
			if !o.lost || o.acked {
				continue
			}
			if !c.canSend(o.n) {
				break
			}
			c.transmit(b, s, now)
			sent = true
		}
	}
	for c.lostCount == 0 && c.sentNext != c.seqNext {
		if c.state == csSynSent && c.out[c.sentNext&mask].typ != stSyn {
			break
		}
		o := &c.out[c.sentNext&mask]
		if o.typ == stData && o.n < c.mss && c.sentNext+1 == c.seqNext && c.inflight > 0 &&
			!c.s.cfg.NoDelay && !c.userClosed {
			break
		}
		if !c.canSend(o.n) {
			break
		}
		c.transmit(b, c.sentNext, now)
		c.sentNext++
		sent = true
	}
	c.probe = false
	if c.needAck && !sent && c.state != csSynSent {
		c.sendState(b, now)
	}
}

// canSend applies the congestion and receive windows to a packet of n
// bytes; a probe (after a timeout or a zero window) goes regardless.
func (c *Conn) canSend(n int) bool {
	if c.probe {
		c.probe = false
		return true
	}
	wnd := min(int(c.cc.cwnd), c.peerWnd)
	if c.inflight+n <= wnd {
		return true
	}
	if c.inflight == 0 && n <= c.peerWnd {
		return true // the congestion window never stops the only packet
	}
	if c.inflight+n > c.peerWnd {
		if c.inflight == 0 && c.zwAt.IsZero() {
			c.zwAt = time.Now().Add(max(c.rtt.rto, time.Second))
		}
	} else {
		c.limited = true
	}
	return false
}

// transmit sends sequence number s (first time or again).
func (c *Conn) transmit(b *txBatch, s uint16, now time.Time) {
	o := &c.out[s&uint16(len(c.out)-1)]
	wnd := c.recvWindow()
	h := header{typ: o.typ, connID: c.sendID, ts: c.s.micros(now), tsDiff: c.replyMicro,
		wnd: uint32(wnd), seq: s, ack: c.ackNr}
	var large uint32
	if o.typ == stSyn {
		h.connID, h.ack = c.key.id, 0
		large = c.s.advertiseLarge()
	}
	slot := b.slot()
	var sack []byte
	if room := c.pktSize - headerLen - o.n - 2; room >= 4 {
		sack = c.sackBits(room)
	}
	hn := putHeader(slot, &h, sack, large)
	var payload []byte
	if o.buf != nil {
		payload = (*o.buf)[:o.n]
	}
	b.msgs = append(b.msgs, txMsg{hdr: slot[:hn], payload: payload, addr: c.key.addr})
	if o.lost {
		o.lost = false
		c.lostCount--
		c.stats.Retransmits++
	} else if o.tx > 0 {
		c.stats.Retransmits++
	} else {
		c.stats.PacketsSent++
		c.stats.BytesSent += uint64(o.n)
	}
	c.inflight += o.n
	o.tx++
	o.sentAt = now
	c.lastSend = now
	c.needAck = false
	c.advertised = wnd
	if c.rtoAt.IsZero() {
		c.rtoAt = now.Add(c.rtt.rto)
	}
	if b.full() {
		c.s.flush(b)
	}
}

// sendState sends a bare ACK (with the SACK bitmask when packets are held
// past a gap); in SYN-RECV it is the answer to the SYN.
func (c *Conn) sendState(b *txBatch, now time.Time) {
	wnd := c.recvWindow()
	h := header{typ: stState, connID: c.sendID, ts: c.s.micros(now), tsDiff: c.replyMicro,
		wnd: uint32(wnd), seq: c.seqNext, ack: c.ackNr}
	var large uint32
	if c.state == csSynRecv {
		large = c.s.advertiseLarge()
	}
	slot := b.slot()
	hn := putHeader(slot, &h, c.sackBits(maxSackBytes), large)
	b.msgs = append(b.msgs, txMsg{hdr: slot[:hn], addr: c.key.addr})
	c.lastSend = now
	c.needAck = false
	c.advertised = wnd
	if b.full() {
		c.s.flush(b)
	}
}

// sendReset tells the peer the connection is gone.
func (c *Conn) sendReset(b *txBatch) {
	if c.state == csClosed {
		return
	}
	h := header{typ: stReset, connID: c.sendID, ts: c.s.micros(time.Now()), seq: c.seqNext, ack: c.ackNr}
	slot := b.slot()
	hn := putHeader(slot, &h, nil, 0)
	b.msgs = append(b.msgs, txMsg{hdr: slot[:hn], addr: c.key.addr})
	if b.full() {
		c.s.flush(b)
	}
}

// sackBits builds the selective ACK bitmask (at most room bytes, a
// multiple of 4), nil when nothing is held past the gap.
func (c *Conn) sackBits(room int) []byte {
	if c.oooCount == 0 {
		return nil
	}
	limit := min(room, maxSackBytes) &^ 3
	if limit == 0 {
		return nil
	}
	last := -1
	bits := c.sackBuf[:limit]
	clear(bits)
	for i := 0; i < limit*8; i++ {
		s := c.ackNr + 2 + uint16(i)
		sl := &c.ooo[s%oooCap]
		if sl.ok && sl.seq == s {
			bits[i/8] |= 1 << (i % 8)
			last = i
		}
	}
	if last < 0 {
		return nil
	}
	return bits[:(last/32+1)*4]
}

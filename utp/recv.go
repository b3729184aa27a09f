package utp

import "time"

// The receive side of a Conn: acks and selective acks of our packets,
// loss detection, and in-order delivery of the peer's data. c.mu is held
// throughout (see proto.go).

// dupAckThreshold is the number of packets acked past a hole that declare
// it lost (BEP 29 and libutp: 3).
const dupAckThreshold = 3

// process is the established connection's receive path: acks, window,
// delay samples, then payload.
func (c *Conn) process(b *txBatch, p *packet, now time.Time) {
	if seqLess(c.sentNext-1, p.ack) {
		c.stats.IgnoredForged++ // acks what we never sent
		return
	}
	c.stats.PacketsRecv++
	c.lastRecv = now
	c.retries = 0
	if p.ts != 0 {
		c.replyMicro = c.s.micros(now) - p.ts
	}
	c.peerWnd = int(p.wnd)
	if c.peerWnd >= c.mss {
		c.zwAt = time.Time{}
	}
	if p.tsDiff != 0 {
		c.cc.sample(p.tsDiff, now, c.rtt.rtt)
	}
	limited := c.limited || c.inflight+c.mss > int(c.cc.cwnd)
	if acked := c.processAcks(p, now); acked > 0 {
		c.cc.acked(acked, limited)
		c.limited = false
	}
	if p.typ == stData || p.typ == stFin {
		c.receive(p)
	}
}

// processAcks applies the cumulative and selective acks and returns the
// payload bytes newly acked.
func (c *Conn) processAcks(p *packet, now time.Time) int {
	if seqLess(p.ack, c.seqBase-1) {
		return 0 // older than what is already acked: nothing to learn
	}
	bytes := 0
	advanced := p.ack != c.seqBase-1
	for s := c.seqBase; advanced && s != p.ack+1; s++ {
		bytes += c.ackOne(s, now)
	}
	if p.sack != nil {
		bytes += c.sackAcks(p, now)
	}
	mask := uint16(len(c.out) - 1)
	for c.seqBase != c.sentNext && c.out[c.seqBase&mask].acked {
		if c.out[c.seqBase&mask].typ == stFin {
			c.finAcked = true // cumulatively: everything before it arrived too
		}
		c.out[c.seqBase&mask] = outPacket{}
		c.seqBase++
	}
	if advanced {
		c.dupAcks = 0
		c.lastAck = p.ack
	} else if p.typ == stState && p.sack == nil && c.inflight > 0 && len(p.payload) == 0 {
		c.dupAcks++
		if c.dupAcks == dupAckThreshold {
			c.markLost(c.seqBase)
		}
	}
	if bytes > 0 || advanced {
		if c.userClosed {
			c.lingerAt = now.Add(c.s.cfg.Linger) // still making progress
		}
		c.rtoAt = time.Time{}
		if c.inflight > 0 || c.lostCount > 0 {
			c.rtoAt = now.Add(c.rtt.rto)
		}
		signal(c.wrReady)
	}
	return bytes
}

// sackAcks applies a selective ack and marks as lost every packet that
// dupAckThreshold later packets have overtaken.
func (c *Conn) sackAcks(p *packet, now time.Time) int {
	bytes := 0
	high := p.ack + 1 // the highest sequence number selectively acked
	found := false
	for i := 0; i < len(p.sack)*8; i++ {
		if p.sack[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		s := p.ack + 2 + uint16(i)
		if !seqLess(s, c.sentNext) {
			break // bits for packets never sent: ignored
		}
		if seqLess(s, c.seqBase) {
			continue
		}
		bytes += c.ackOne(s, now)
		high, found = s, true
	}
	if !found {
		return bytes
	}
	// A packet is lost once dupAckThreshold packets sent after it (after
	// its last transmission, so a retransmission is not declared lost again
	// by the same acks) have arrived: track the newest three send times.
	mask := uint16(len(c.out) - 1)
	var newest [dupAckThreshold]time.Time
	count := 0
	for s := high; s != c.seqBase-1 && !seqLess(s, c.seqBase); s-- {
		o := &c.out[s&mask]
		if o.acked {
			count++
			t := o.sentAt
			for i := range newest {
				if t.After(newest[i]) {
					newest[i], t = t, newest[i]
				}
			}
		} else if count >= dupAckThreshold && newest[dupAckThreshold-1].After(o.sentAt) {
			c.markLost(s)
		}
	}
	return bytes
}

// ackOne marks sequence number s acked and returns its payload size.
func (c *Conn) ackOne(s uint16, now time.Time) int {
	o := &c.out[s&uint16(len(c.out)-1)]
	if o.acked || o.tx == 0 {
		return 0
	}
	o.acked = true
	if o.lost {
		c.lostCount--
	} else {
		c.inflight -= o.n
	}
	if o.tx == 1 {
		c.rtt.sample(now.Sub(o.sentAt)) // Karn: never from a retransmitted packet
	}
	n := o.n
	if o.buf != nil {
		c.outMem -= cap(*o.buf)
		putBuf(o.buf)
		o.buf = nil
	}
	c.outBytes -= n
	return n
}

// markLost queues s for retransmission; the first loss in a window halves
// the congestion window.
func (c *Conn) markLost(s uint16) {
	o := &c.out[s&uint16(len(c.out)-1)]
	if o.acked || o.lost || o.tx == 0 {
		return
	}
	o.lost = true
	c.inflight -= o.n
	c.lostCount++
	if o.typ != stSyn && (!c.lossSeen || !seqLess(s, c.lossSeq)) {
		c.cc.lost()
		c.lossSeq, c.lossSeen = c.sentNext, true
	}
}

// receive takes a DATA or FIN packet's payload.
func (c *Conn) receive(p *packet) {
	c.needAck = true
	if c.gotFin && seqLess(c.eofSeq, p.seq) {
		return // past the end of the stream
	}
	d := p.seq - (c.ackNr + 1)
	if int16(d) < 0 {
		return // a duplicate: the ack repeats
	}
	fin := p.typ == stFin
	if d == 0 {
		if !c.deliver(p.payload) {
			c.stats.DroppedNoSpace++
			return
		}
		c.ackNr++
		if fin {
			c.gotFin, c.eofSeq, c.eof = true, p.seq, true
		}
		for c.oooCount > 0 && !c.eof {
			sl := &c.ooo[(c.ackNr+1)%oooCap]
			if !sl.ok || sl.seq != c.ackNr+1 {
				break
			}
			c.oooBytes -= sl.n
			c.oooCount--
			if sl.buf != nil {
				c.deliver((*sl.buf)[:sl.n]) // its space was reserved when stored
				putBuf(sl.buf)
			}
			c.ackNr++
			if sl.fin {
				c.eof = true
			}
			*sl = oooSlot{}
		}
		signal(c.rdReady)
		return
	}
	if int(d) >= oooCap {
		return
	}
	if c.ooo == nil {
		c.ooo = make([]oooSlot, oooCap)
	}
	sl := &c.ooo[p.seq%oooCap]
	if sl.ok {
		return
	}
	if !c.userClosed && c.rbuf.len()+c.oooBytes+len(p.payload) > c.s.cfg.RecvBuffer {
		c.stats.DroppedNoSpace++
		return
	}
	*sl = oooSlot{seq: p.seq, fin: fin, ok: true}
	if fin {
		c.gotFin, c.eofSeq = true, p.seq
	}
	if len(p.payload) > 0 && !c.userClosed {
		sl.buf = getBuf(len(p.payload))
		sl.n = copy(*sl.buf, p.payload)
		c.oooBytes += sl.n
	}
	c.oooCount++
}

// deliver appends in-order data for Read; false when it does not fit the
// window (the peer overran it). After Close data is acked and dropped.
func (c *Conn) deliver(data []byte) bool {
	if c.userClosed || len(data) == 0 {
		return true
	}
	rmax := c.s.cfg.RecvBuffer
	if c.rbuf.len()+c.oooBytes+len(data) > rmax {
		return false
	}
	c.rbuf.write(data, rmax)
	c.stats.BytesRecv += uint64(len(data))
	return true
}

func (c *Conn) releaseOOO() {
	for i := range c.ooo {
		if c.ooo[i].buf != nil {
			putBuf(c.ooo[i].buf)
			c.ooo[i].buf = nil
			c.ooo[i].n = 0
		}
	}
	c.oooBytes = 0
}

// recvWindow is the receive window to advertise.
func (c *Conn) recvWindow() int {
	return max(c.s.cfg.RecvBuffer-c.rbuf.len()-c.oooBytes, 0)
}

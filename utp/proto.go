package utp

import (
	"math/rand/v2"
	"time"
)

// The protocol side of a Conn. Every method here runs with c.mu held, in
// the Socket's reader or timer goroutine or in a user call; datagrams go
// into the caller's txBatch, which the caller flushes before unlocking
// (the batch references payload buffers that only an ack may free).

// dupAckThreshold is the number of packets acked past a hole that declare
// it lost (BEP 29 and libutp: 3).
const dupAckThreshold = 3

// acceptSyn sets up an incoming connection from its SYN and answers it.
func (c *Conn) acceptSyn(b *txBatch, p *packet, now time.Time) {
	c.ackNr = p.seq
	c.seqNext = uint16(rand.Uint32())
	c.seqBase, c.sentNext = c.seqNext, c.seqNext
	c.peerWnd = int(p.wnd)
	c.setPacketSize(p.large)
	c.replyMicro = c.s.micros(now) - p.ts
	c.lastRecv = now
	c.sendState(b, now)
	c.reschedule(now)
}

// onPacket handles one packet for this connection.
func (c *Conn) onPacket(b *txBatch, p *packet, now time.Time) {
	switch c.state {
	case csClosed:
		return
	case csSynSent:
		if p.typ == stReset {
			c.destroy(ErrRefused)
			return
		}
		if p.typ != stState || p.ack != c.seqBase {
			return
		}
		c.state = csConnected
		c.ackNr = p.seq - 1
		c.setPacketSize(p.large)
		c.process(b, p, now)
		// Answer at once: the acceptor hands a connection to Accept only
		// once its initiator has answered, and our application may wait
		// for the other side to speak first.
		c.needAck = true
		close(c.dialDone)
		return
	case csSynRecv:
		switch p.typ {
		case stSyn: // our answer was lost
			c.stats.PacketsRecv++
			c.sendState(b, now)
			return
		case stReset:
			c.destroy(ErrReset)
			return
		}
		if p.ack != c.seqBase-1 {
			return // does not answer our STATE: not the initiator (or forged)
		}
		c.state = csConnected
		if !c.s.established(c) {
			c.sendReset(b)
			c.destroy(ErrTooManyConns)
			return
		}
	case csConnected:
		switch p.typ {
		case stSyn:
			return // a stale duplicate of the SYN
		case stReset:
			c.destroy(ErrReset)
			return
		}
	}
	c.process(b, p, now)
}

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

// afterRun runs after the reader handed the connection a run of packets.
func (c *Conn) afterRun(b *txBatch, now time.Time) {
	if c.state == csClosed {
		return
	}
	c.flush(b, now)
	c.maybeDone(b)
	c.reschedule(now)
}

// maybeDone ends a closed connection whose FIN the peer has acked.
func (c *Conn) maybeDone(b *txBatch) {
	if c.userClosed && c.finAcked && c.state == csConnected {
		c.destroy(nil)
	}
}

// onTimer handles the connection's due deadlines.
func (c *Conn) onTimer(b *txBatch, now time.Time) {
	if c.state == csClosed {
		return
	}
	cfg := &c.s.cfg
	due := now.Add(timerSlack)
	if c.state == csSynRecv && !c.created.Add(cfg.HalfOpenTimeout).After(due) {
		c.destroy(ErrTimeout)
		return
	}
	if c.userClosed && !c.lingerAt.IsZero() && !c.lingerAt.After(due) {
		c.sendReset(b)
		c.destroy(nil)
		return
	}
	if !c.rtoAt.IsZero() && !c.rtoAt.After(due) {
		limit := cfg.MaxRetransmits
		if c.state == csSynSent {
			limit = cfg.SynRetries
		}
		if c.retries >= limit {
			c.destroy(ErrTimeout)
			return
		}
		c.retries++
		c.stats.Timeouts++
		c.rtt.backoff()
		if c.state != csSynSent {
			c.cc.timedOut()
		}
		mask := uint16(len(c.out) - 1)
		for s := c.seqBase; s != c.sentNext; s++ {
			o := &c.out[s&mask]
			if !o.acked && !o.lost && o.tx > 0 {
				o.lost = true
				c.lostCount++
				c.inflight -= o.n
			}
		}
		c.lossSeq, c.lossSeen = c.sentNext, true
		c.rtoAt = time.Time{}
		c.probe = true
	}
	if !c.zwAt.IsZero() && !c.zwAt.After(due) {
		c.zwAt = time.Time{}
		c.probe = true
	}
	c.flush(b, now)
	if c.state == csConnected && !c.userClosed && !c.lastSend.Add(cfg.KeepAlive).After(due) {
		c.sendState(b, now)
	}
	c.reschedule(now)
}

// reschedule asks for the timer at the earliest deadline.
func (c *Conn) reschedule(now time.Time) {
	if c.state == csClosed {
		return
	}
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	consider(c.rtoAt)
	consider(c.zwAt)
	consider(c.lingerAt)
	if c.state == csSynRecv {
		consider(c.created.Add(c.s.cfg.HalfOpenTimeout))
	}
	if c.state == csConnected && !c.userClosed {
		consider(c.lastSend.Add(c.s.cfg.KeepAlive))
	}
	c.schedule(next)
}

// destroy ends the connection: removed from the table, buffers returned,
// waiters woken. err (nil for a clean close) is what Read and Write return.
func (c *Conn) destroy(err error) {
	if c.state == csClosed {
		return
	}
	prev := c.state
	c.state = csClosed
	if err != nil && c.err == nil {
		c.err = err
	}
	mask := uint16(len(c.out) - 1)
	for s := c.seqBase; s != c.seqNext; s++ {
		o := &c.out[s&mask]
		if o.buf != nil {
			putBuf(o.buf)
		}
		*o = outPacket{}
	}
	c.outBytes, c.outMem, c.inflight, c.lostCount = 0, 0, 0, 0
	c.releaseOOO()
	c.s.remove(c, prev == csSynRecv)
	if prev == csSynSent {
		close(c.dialDone)
	}
	c.timerGen++
	c.timerAt = time.Time{}
	signal(c.rdReady)
	signal(c.wrReady)
}

package utp

import (
	"math/rand/v2"
	"time"
)

// The protocol side of a Conn: its state machine, timers and end (send.go
// and recv.go hold the two directions). Every method runs with c.mu held, in
// the Socket's reader or timer goroutine or in a user call; datagrams go
// into the caller's txBatch, which the caller flushes before unlocking
// (the batch references payload buffers that only an ack may free).

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

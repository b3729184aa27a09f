package core

import (
	"container/heap"
	"fmt"
	"slices"
	"testing"
	"time"
)

// A simulated swarm in memory: core instances joined by a fake network with
// fixed latencies and upload capacities, driven by virtual time. Nothing
// touches a socket or a clock, so every run is identical.

type simEvent struct {
	at  time.Duration
	seq int
	fn  func()
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type sim struct {
	tb    testing.TB
	now   time.Duration
	q     simQueue
	seq   int
	nodes []*simNode
	steps int
	// tickEvery is how often nodes Tick (default 1 s).
	tickEvery time.Duration
}

func (s *sim) after(d time.Duration, fn func()) {
	s.seq++
	heap.Push(&s.q, simEvent{at: s.now + d, seq: s.seq, fn: fn})
}

// run processes events until done returns true or virtual time passes
// limit; it reports whether done was reached.
func (s *sim) run(limit time.Duration, done func() bool) bool {
	for s.q.Len() > 0 {
		e := heap.Pop(&s.q).(simEvent)
		if e.at > limit {
			return false
		}
		s.now = e.at
		e.fn()
		s.steps++
		if s.steps%512 == 0 {
			s.check()
		}
		if done() {
			s.check()
			return true
		}
	}
	return done()
}

func (s *sim) check() {
	s.tb.Helper()
	for _, n := range s.nodes {
		if err := n.t.checkInvariants(); err != nil {
			s.tb.Fatalf("t=%v %s: %v", s.now, n.name, err)
		}
	}
}

type simNode struct {
	s       *sim
	name    string
	t       *Torrent
	fast    bool
	upRate  float64       // bytes per second
	busy    time.Duration // uplink busy until
	silent  bool          // ignores requests (never answers)
	corrupt bool          // sends bad data
	conns   map[PeerID]*simConn
	list    []*simConn
	bad     map[uint32]uint64 // per piece, a mask of the corrupt blocks held

	done        bool
	doneAt      time.Duration
	cancelsTo   map[*simNode]int
	unchoked    map[*simNode]time.Duration // first time we unchoked them
	snubbed     map[*simNode]bool
	drops       []Drop
	dropped     map[*simNode]Drop
	endgameSeen bool
	uploaded    int64
	served      map[uint32]int64 // bytes uploaded per piece
	leaveAfter  int64            // disconnect from everyone after uploading this much (0: never)
	firstCopy   int              // distinct pieces served when one copy's worth was uploaded

	// queued: the uplink serves an upload queue in order, one block at a
	// time, and a CANCEL removes a request it has not started (as real
	// peers do); otherwise requests are scheduled on arrival and cancels
	// are only counted.
	queued   bool
	upq      []upReq
	sending  bool
	stalls   []stall  // periods in which a queued uplink sends nothing
	onHave   []func() // called after a batch with newly verified pieces
	trace    func(to string, m Message)
	discards int64 // blocks sent that the receiver discarded (queued mode)
}

type upReq struct {
	c *simConn
	m Message
}

// stall is a period [from, to) in which a node's uplink is silent.
type stall struct{ from, to time.Duration }

type simConn struct {
	local, remote *simNode
	id            PeerID // the local core's handle for remote
	rev           *simConn
	latency       time.Duration
	closed        bool
	granted       []uint32 // pieces we sent ALLOWED FAST for
}

func (s *sim) node(name string, cfg Config, seed bool, upRate float64) *simNode {
	cfg.Seed = uint64(len(s.nodes) + 1)
	tor, err := New(cfg)
	if err != nil {
		s.tb.Fatal(err)
	}
	if seed {
		for i := range tor.NumPieces() {
			tor.SetHave(uint32(i))
		}
	}
	n := &simNode{
		s: s, name: name, t: tor, fast: true, upRate: upRate,
		conns: map[PeerID]*simConn{}, bad: map[uint32]uint64{},
		cancelsTo: map[*simNode]int{}, unchoked: map[*simNode]time.Duration{},
		snubbed: map[*simNode]bool{}, dropped: map[*simNode]Drop{}, done: seed,
	}
	s.nodes = append(s.nodes, n)
	tor.Tick(0)
	k := len(s.nodes)
	every := s.tickEvery
	if every <= 0 {
		every = time.Second
	}
	var tick func()
	tick = func() {
		n.t.Tick(s.now)
		if n.t.Stats().Endgame {
			n.endgameSeen = true
		}
		for _, c := range n.list {
			if ps, ok := n.t.PeerStats(c.id); ok && ps.Snubbed {
				n.snubbed[c.remote] = true
			}
		}
		n.flush()
		s.after(every, tick)
	}
	s.after(every+time.Duration(k)*time.Millisecond, tick)
	return n
}

func (s *sim) connect(a, b *simNode, latency time.Duration) {
	ca := &simConn{local: a, remote: b, latency: latency}
	cb := &simConn{local: b, remote: a, latency: latency, rev: ca}
	ca.rev = cb
	fast := a.fast && b.fast
	ca.id = a.t.PeerConnected(Caps{Fast: fast})
	cb.id = b.t.PeerConnected(Caps{Fast: fast})
	a.conns[ca.id], b.conns[cb.id] = ca, cb
	a.list, b.list = append(a.list, ca), append(b.list, cb)
	a.flush() // the greetings
	b.flush()
}

// send delivers fn to the other end after the link latency, then lets the
// receiver act on its decisions.
func (c *simConn) send(fn func(r *simConn)) {
	c.local.s.after(c.latency, func() {
		if c.closed || c.rev.closed {
			return
		}
		fn(c.rev)
		c.rev.local.flush()
	})
}

func (c *simConn) close() {
	if c.closed {
		return
	}
	c.closed = true
	c.local.t.PeerGone(c.id)
	r := c.rev
	c.local.s.after(c.latency, func() {
		if !r.closed {
			r.closed = true
			r.local.t.PeerGone(r.id)
			r.local.flush()
		}
	})
}

func (n *simNode) flush() {
	rd := n.t.Ready()
	for _, m := range rd.Messages {
		c := n.conns[m.Peer]
		if c == nil || c.closed {
			continue
		}
		if n.trace != nil {
			n.trace(c.remote.name, m)
		}
		switch m.Kind {
		case MsgRequest:
			c.send(func(r *simConn) { r.local.serve(r, m) })
		case MsgCancel:
			n.cancelsTo[c.remote]++
			if c.remote.queued {
				c.send(func(r *simConn) { r.local.cancelUpload(r, m) })
			}
		case MsgChoke:
			c.send(func(r *simConn) { r.local.t.PeerChoke(r.id) })
		case MsgUnchoke:
			if _, ok := n.unchoked[c.remote]; !ok {
				n.unchoked[c.remote] = n.s.now
			}
			c.send(func(r *simConn) { r.local.t.PeerUnchoke(r.id) })
		case MsgInterested:
			c.send(func(r *simConn) { r.local.t.PeerInterested(r.id) })
		case MsgNotInterested:
			c.send(func(r *simConn) { r.local.t.PeerNotInterested(r.id) })
		case MsgBitfield:
			bf := n.t.AppendBitfield(nil)
			c.send(func(r *simConn) { r.local.t.PeerBitfield(r.id, bf) })
		case MsgHaveAll:
			c.send(func(r *simConn) { r.local.t.PeerHaveAll(r.id) })
		case MsgHaveNone:
			c.send(func(r *simConn) { r.local.t.PeerHaveNone(r.id) })
		case MsgAllowedFast:
			c.granted = append(c.granted, m.Piece)
			c.send(func(r *simConn) { r.local.t.PeerAllowedFast(r.id, m.Piece) })
		}
	}
	for _, i := range rd.Hash {
		mask := n.bad[i]
		delete(n.bad, i)
		// Block digests for smart banning: a corrupt block's differs.
		digests := make([]uint64, n.t.numBlocks(i))
		for b := range digests {
			digests[b] = uint64(i)<<16 | uint64(b)
			if mask&(1<<b) != 0 {
				digests[b] |= 1 << 60
			}
		}
		n.s.after(time.Millisecond, func() {
			n.t.PieceHashedDigests(i, mask == 0, digests)
			n.flush()
		})
	}
	for _, i := range rd.Have {
		for _, c := range n.list {
			if !c.closed {
				c.send(func(r *simConn) { r.local.t.PeerHave(r.id, i) })
			}
		}
	}
	for _, d := range rd.Drops {
		n.drops = append(n.drops, d)
		if c := n.conns[d.Peer]; c != nil {
			n.dropped[c.remote] = d
			c.close()
		}
	}
	if rd.Completed {
		n.done = true
		n.doneAt = n.s.now
	}
	if len(rd.Have) > 0 {
		for _, f := range n.onHave {
			f()
		}
	}
}

// serve answers a request from the peer at the other end of c through the
// node's uplink, as a shell with an upload queue would.
func (n *simNode) serve(c *simConn, m Message) {
	ps, ok := n.t.PeerStats(c.id)
	if !ok {
		return
	}
	switch AdmitRequest(n.t.HasPiece(m.Piece), ps.AmChoking, slices.Contains(c.granted, m.Piece), ps.Fast) {
	case RequestServe:
	case RequestReject:
		c.send(func(r *simConn) { r.local.t.PeerReject(r.id, m.Piece, m.Begin, m.Length) })
		return
	default:
		return
	}
	if n.silent {
		return
	}
	if n.queued {
		n.upq = append(n.upq, upReq{c, m})
		if !n.sending {
			n.sendNext()
		}
		return
	}
	start := max(n.s.now, n.busy)
	n.busy = start + time.Duration(float64(m.Length)/n.upRate*float64(time.Second))
	n.s.after(n.busy-n.s.now, func() {
		if c.closed {
			return
		}
		if ps, ok := n.t.PeerStats(c.id); !ok || ps.AmChoking {
			if ok && ps.Fast {
				c.send(func(r *simConn) { r.local.t.PeerReject(r.id, m.Piece, m.Begin, m.Length) })
			}
			return
		}
		n.t.Uploaded(c.id, int(m.Length))
		n.uploaded += int64(m.Length)
		if n.served == nil {
			n.served = map[uint32]int64{}
		}
		n.served[m.Piece] += int64(m.Length)
		if n.firstCopy == 0 && n.uploaded >= n.t.cfg.TotalLength {
			n.firstCopy = len(n.served)
		}
		if n.leaveAfter > 0 && n.uploaded >= n.leaveAfter {
			for _, c := range n.list {
				c.close()
			}
			n.flush()
		}
		corrupt := n.corrupt
		c.send(func(r *simConn) {
			v := r.local.t.BlockReceived(r.id, m.Piece, m.Begin, m.Length, nil)
			if v == BlockViolation {
				r.local.s.tb.Errorf("%s: block %v from %s was a violation", r.local.name, m, n.name)
			}
			if v == BlockAccepted && corrupt {
				r.local.bad[m.Piece] |= 1 << (m.Begin / BlockSize)
			}
		})
	})
}

// sendNext sends the head of a queued uplink's queue, after any stall.
func (n *simNode) sendNext() {
	if len(n.upq) == 0 {
		n.sending = false
		return
	}
	n.sending = true
	for _, st := range n.stalls {
		if n.s.now >= st.from && n.s.now < st.to {
			n.s.after(st.to-n.s.now, n.sendNext)
			return
		}
	}
	u := n.upq[0]
	n.upq = n.upq[1:]
	n.s.after(time.Duration(float64(u.m.Length)/n.upRate*float64(time.Second)), func() {
		n.deliver(u.c, u.m)
		n.sendNext()
	})
}

// cancelUpload removes a request from a queued uplink's queue if it has
// not started.
func (n *simNode) cancelUpload(c *simConn, m Message) {
	for k, u := range n.upq {
		if u.c == c && u.m.Piece == m.Piece && u.m.Begin == m.Begin {
			n.upq = append(n.upq[:k], n.upq[k+1:]...)
			return
		}
	}
}

// deliver sends one block over c if the receiver may still have it.
func (n *simNode) deliver(c *simConn, m Message) {
	if c.closed {
		return
	}
	if ps, ok := n.t.PeerStats(c.id); !ok || ps.AmChoking {
		if ok && ps.Fast {
			c.send(func(r *simConn) { r.local.t.PeerReject(r.id, m.Piece, m.Begin, m.Length) })
		}
		return
	}
	n.t.Uploaded(c.id, int(m.Length))
	n.uploaded += int64(m.Length)
	c.send(func(r *simConn) {
		v := r.local.t.BlockReceived(r.id, m.Piece, m.Begin, m.Length, nil)
		if v == BlockViolation {
			r.local.s.tb.Errorf("%s: block %v from %s was a violation", r.local.name, m, n.name)
		}
		if v == BlockDiscarded {
			n.discards++
		}
	})
}

func allDone(nodes ...*simNode) func() bool {
	return func() bool {
		for _, n := range nodes {
			if !n.done {
				return false
			}
		}
		return true
	}
}

func lat(i, j int) time.Duration { return time.Duration(10+5*((i+j)%3)) * time.Millisecond }

func simConfig(pieces int, plen int64) Config {
	return Config{NumPieces: pieces, PieceLength: plen, TotalLength: int64(pieces-1)*plen + plen/2 + 100}
}

// One seeder, five leechers, everyone connected: every leecher completes,
// leechers trade among themselves (the seeder uploads far less than five
// copies), end game runs and cancels duplicates.
func TestSwarmCompletes(t *testing.T) {
	s := &sim{tb: t}
	cfg := simConfig(128, 64<<10)
	size := cfg.TotalLength
	seed := s.node("seed", cfg, true, 1<<20)
	var leechers []*simNode
	for i := range 5 {
		leechers = append(leechers, s.node(fmt.Sprintf("leech%d", i), cfg, false, 1<<20))
	}
	for i, a := range s.nodes {
		for j := i + 1; j < len(s.nodes); j++ {
			s.connect(a, s.nodes[j], lat(i, j))
		}
	}
	if !s.run(10*time.Minute, allDone(leechers...)) {
		for _, l := range leechers {
			t.Logf("%s: %+v", l.name, l.t.Stats())
		}
		t.Fatalf("swarm did not complete by %v", s.now)
	}
	t.Logf("completed at %v after %d events; seeder uploaded %.2f copies", s.now, s.steps, float64(seed.uploaded)/float64(size))
	t.Logf("distinct pieces in the seeder's first copy: %d of %d", seed.firstCopy, cfg.NumPieces)
	if seed.uploaded > 2*size {
		t.Errorf("seeder uploaded %d bytes (%.2f copies) for 5 leechers: pieces did not spread", seed.uploaded, float64(seed.uploaded)/float64(size))
	}
	endgame, cancels := false, 0
	for _, l := range leechers {
		st := l.t.Stats()
		if st.Have != cfg.NumPieces || st.Left != 0 || !l.t.Complete() {
			t.Errorf("%s: %+v", l.name, st)
		}
		if st.HashFails != 0 {
			t.Errorf("%s: %d hash failures among honest peers", l.name, st.HashFails)
		}
		endgame = endgame || l.endgameSeen
		for _, c := range l.cancelsTo {
			cancels += c
		}
		var from int64
		for _, c := range l.list {
			if c.remote != seed {
				from += c.remote.t.peerUploadedTo(c.rev.id)
			}
		}
		if from == 0 {
			t.Errorf("%s received nothing from other leechers", l.name)
		}
	}
	if !endgame || cancels == 0 {
		t.Errorf("end game seen %v, cancels %d: want both", endgame, cancels)
	}
}

// peerUploadedTo returns what we uploaded to a peer, including after it was
// dropped (a test helper reading the slot directly).
func (t *Torrent) peerUploadedTo(id PeerID) int64 {
	p := t.peers[id.Slot()]
	if p.id != id {
		return 0
	}
	return p.uploaded
}

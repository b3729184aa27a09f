package metadata

import (
	"bytes"
	"container/heap"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// Kinds of simulated peers.
type simKind int

const (
	simHonest    simKind = iota // answers every request correctly, quickly
	simSlow                     // honest, but often slower than RequestTimeout
	simLiar                     // answers every request quickly, with wrong bytes
	simSilent                   // never answers
	simRejecter                 // rejects every request
	simWrongSize                // announces another size, answers with bytes of that size
	simSpammer                  // sends a data message nobody asked for
	simSly                      // answers quickly, a third of the pieces wrong
	simStaller                  // answers its first few requests wrongly, then never
	simKinds
)

var simKindNames = [...]string{"honest", "slow", "liar", "silent", "rejecter", "wrong-size", "spammer", "sly", "staller"}

type simPeer struct {
	kind    simKind
	id      PeerID
	size    int
	gone    bool // PeerGone called
	dropped *Drop
	stored  bool // a liar whose wrong bytes entered a copy
	leaves  bool
	answers int // requests answered
}

type simEvent struct {
	at  time.Duration
	seq int
	fn  func()
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || (q[i].at == q[j].at && q[i].seq < q[j].seq)
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
	t     *testing.T
	rng   *rand.Rand
	x     *fx
	info  []byte
	q     simQueue
	seq   int
	peers map[PeerID]*simPeer
	done  []byte
	log   []string
	stats simStats
}

func (s *sim) at(d time.Duration, fn func()) {
	s.seq++
	heap.Push(&s.q, simEvent{at: s.x.now + d, seq: s.seq, fn: fn})
}

func (s *sim) latency(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)))
}

// drain performs a Ready batch: requests reach the peers, which answer
// after their latency; drops close the connection a moment later.
func (s *sim) drain() {
	sz := s.x.Size()
	b := s.x.ready()
	s.stats.solo = s.stats.solo || s.x.solo
	s.stats.switched = s.stats.switched || (sz != 0 && sz != s.x.Size())
	for _, d := range b.drops {
		p := s.peers[d.Peer]
		if p == nil || p.dropped != nil || p.gone {
			s.t.Fatalf("drop of %v, which is gone or dropped", d.Peer)
		}
		p.dropped = &d
		s.logf("drop %v (%s): %v ban=%v", d.Peer, simKindNames[p.kind], d.Reason, d.Ban)
		s.at(time.Millisecond, func() { p.gone = true; s.x.PeerGone(p.id) })
	}
	if b.info != nil {
		s.done = b.info
	}
	for _, r := range b.reqs {
		p := s.peers[r.Peer]
		if p == nil || p.gone || p.dropped != nil {
			s.t.Fatalf("request to %v, which is gone or dropped", r.Peer)
		}
		if p.size != s.x.Size() {
			s.t.Fatalf("asked %v (size %d) while fetching size %d", r.Peer, p.size, s.x.Size())
		}
		s.answer(p, r.Piece)
	}
}

func (s *sim) answer(p *simPeer, piece int) {
	deliver := func(d time.Duration, fn func()) {
		s.at(d, func() {
			if !p.gone {
				fn()
				s.drain()
			}
		})
	}
	switch p.kind {
	case simHonest:
		deliver(s.latency(time.Millisecond, 500*time.Millisecond), func() {
			s.x.Data(p.id, piece, p.size, pieceOf(s.info, piece))
		})
	case simSlow:
		deliver(s.latency(time.Millisecond, 40*time.Second), func() {
			s.x.Data(p.id, piece, p.size, pieceOf(s.info, piece))
		})
	case simLiar, simWrongSize:
		n := peerwire.MetadataPieceLen(p.size, piece)
		bad := make([]byte, n)
		for i := range bad {
			bad[i] = byte(s.rng.Uint32())
		}
		deliver(s.latency(time.Millisecond, 300*time.Millisecond), func() {
			s.x.Data(p.id, piece, p.size, bad)
			if p.kind == simLiar && s.x.have != nil && s.x.have[piece] && s.x.src[piece] == p.id {
				p.stored = true
			}
		})
	case simSly, simStaller:
		p.answers++
		data := pieceOf(s.info, piece)
		wrong := p.kind == simStaller || s.rng.IntN(3) == 0
		if wrong {
			data = bytes.Repeat([]byte{byte(p.id)}, len(data))
		}
		if p.kind == simStaller && p.answers > 3 {
			return
		}
		deliver(s.latency(time.Millisecond, 300*time.Millisecond), func() {
			s.x.Data(p.id, piece, p.size, data)
			if wrong && s.x.have != nil && s.x.have[piece] && s.x.src[piece] == p.id && !bytes.Equal(data, pieceOf(s.info, piece)) {
				p.stored = true
			}
		})
	case simRejecter:
		deliver(s.latency(time.Millisecond, 200*time.Millisecond), func() { s.x.Reject(p.id, piece) })
	case simSilent, simSpammer:
	}
}

func (s *sim) logf(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf("%8v ", s.x.now)+fmt.Sprintf(format, args...))
}

func (s *sim) join(kind simKind, leaves bool) {
	p := &simPeer{kind: kind, size: len(s.info), leaves: leaves}
	if kind == simWrongSize {
		for p.size == len(s.info) {
			p.size = 1 + s.rng.IntN(3*len(s.info))
		}
	}
	p.id = s.x.AddPeer(p.size)
	if p.id == NoPeer {
		return // done already
	}
	s.peers[p.id] = p
	s.logf("join %v %s size %d", p.id, simKindNames[kind], p.size)
	if kind == simSpammer { // before anything could have been asked of it
		s.x.Data(p.id, s.rng.IntN(peerwire.MetadataPieces(p.size)), p.size, pieceOf(s.info, 0))
	}
	if leaves {
		s.at(s.latency(time.Second, 3*time.Minute), func() {
			if !p.gone {
				p.gone = true
				s.x.PeerGone(p.id)
				s.logf("leave %v", p.id)
				s.drain()
			}
		})
	}
	s.drain()
}

// runSim runs one random swarm: at least one honest peer that stays, and
// any number of others of every kind, joining over the first two minutes.
func runSim(t *testing.T, seed uint64) simStats {
	rng := rand.New(rand.NewPCG(seed, 99))
	size := 1 + rng.IntN(20*PieceSize)
	if rng.IntN(4) == 0 {
		size = PieceSize * (1 + rng.IntN(4)) // exact multiples too
	}
	info, ih := testInfo(size, seed)
	s := &sim{t: t, rng: rng, info: info, peers: map[PeerID]*simPeer{}}
	s.x = newFx(t, Config{InfoHash: ih, Seed: seed, MaxInFlight: 1 + rng.IntN(4)})
	joinHonest := s.latency(0, 2*time.Minute)
	s.at(joinHonest, func() { s.join(simHonest, false) })
	for range rng.IntN(12) {
		kind := simKind(rng.IntN(int(simKinds)))
		leaves := rng.IntN(3) == 0
		s.at(s.latency(0, 2*time.Minute), func() { s.join(kind, leaves) })
	}
	s.at(time.Second, s.tick)
	const limit = 2 * time.Hour
	for s.done == nil && s.q.Len() > 0 && s.x.now < limit {
		e := heap.Pop(&s.q).(simEvent)
		if e.at > s.x.now {
			s.x.now = e.at // virtual time; Tick only on the tick events
		}
		e.fn()
	}
	fail := func(format string, args ...any) {
		t.Helper()
		for _, l := range s.log {
			t.Log(l)
		}
		t.Fatalf("seed %d: "+format, append([]any{seed}, args...)...)
	}
	s.stats.end = s.x.now
	for _, p := range s.peers {
		if p.dropped != nil && p.dropped.Ban {
			s.stats.banned++
		}
		if p.dropped != nil && p.dropped.Reason == ReasonUnrequested {
			s.stats.unreq++
		}
	}
	if !bytes.Equal(s.done, info) {
		fail("not fetched by %v (have %d of %d pieces)", s.x.now, s.x.nhave, s.x.n)
	}
	for _, p := range s.peers {
		d := p.dropped
		switch p.kind {
		case simHonest, simSlow, simSilent, simRejecter:
			if d != nil {
				fail("%s peer %v dropped: %+v", simKindNames[p.kind], p.id, *d)
			}
		case simLiar, simSly:
			if p.stored && !p.gone && (d == nil || d.Reason != ReasonBadData || !d.Ban) {
				fail("liar %v supplied a piece but was not banned (%+v)", p.id, d)
			}
			if d != nil && d.Reason != ReasonBadData {
				fail("liar %v dropped for %v", p.id, d.Reason)
			}
		case simStaller:
			if d != nil && (d.Reason != ReasonBadData || !d.Ban) {
				fail("staller %v dropped for %v", p.id, d.Reason)
			}
		case simWrongSize:
			if !p.gone && d == nil {
				fail("wrong-size peer %v kept", p.id)
			}
		case simSpammer:
			if !p.gone && (d == nil || d.Reason != ReasonUnrequested) {
				fail("spammer %v: %+v", p.id, d)
			}
		}
	}
	return s.stats
}

func (s *sim) tick() {
	s.x.Tick(s.x.now)
	s.drain()
	if s.done == nil {
		s.at(time.Second, s.tick)
	}
}

// TestSimulation runs random swarms of honest, slow, lying, silent,
// rejecting, wrong-size and spamming peers, joining and leaving, in
// virtual time. With one honest peer that stays, the fetcher always ends
// with the right bytes; it never drops an honest, slow, silent or
// rejecting peer; it bans every liar whose bytes entered a copy, and drops
// every wrong-size peer and every spammer still connected.
func TestSimulation(t *testing.T) {
	n := 400
	if testing.Short() || raceEnabled {
		n = 100
	}
	var solo, switched, banned, unreq int
	var longest time.Duration
	for seed := range uint64(n) {
		st := runSim(t, seed)
		if st.solo {
			solo++
		}
		if st.switched {
			switched++
		}
		banned += st.banned
		unreq += st.unreq
		longest = max(longest, st.end)
	}
	t.Logf("%d swarms: %d in solo mode, %d switched size, %d peers banned, %d spammers dropped, longest fetch %v",
		n, solo, switched, banned, unreq, longest)
	if solo == 0 || switched == 0 || banned == 0 || unreq == 0 {
		t.Fatal("the simulation no longer exercises every path")
	}
}

// simStats tallies what a simulation exercised.
type simStats struct {
	solo, switched bool // solo mode entered; size switched
	banned, unreq  int  // peers banned; peers dropped for unrequested data
	end            time.Duration
}

package core

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// Streaming in the simulated swarm: a leecher plays a file while it
// downloads from upload-limited seeders (some slow, one that stalls),
// reading at a constant bitrate like a video player, and records how long
// each read waited.

// simRead is one read of the simulated player.
type simRead struct {
	off    int64
	issued time.Duration
	done   time.Duration
	seek   bool // the first read after a seek (or the first of all)
}

func (r simRead) wait() time.Duration { return r.done - r.issued }

// simPlayer reads [off, off+chunk) at a constant rate through a leecher:
// the next read is issued chunk/rate after the previous one was, or when
// it completed if it was late (a player that stalls pauses, then goes on
// at its rate).
type simPlayer struct {
	n         *simNode
	id        ReaderID
	deadlines bool // use SetReader (else the plain picker)
	rate      int64
	chunk     int64
	size      int64
	pos       int64
	start     time.Duration
	stop      time.Duration // no read issued after this
	seeks     map[int]int64 // before read k, seek to this offset
	reads     []simRead
	pending   bool
	nextIssue time.Duration
}

func (p *simPlayer) begin() {
	p.n.onHave = append(p.n.onHave, p.check)
	p.n.s.after(p.start-p.n.s.now, p.issue)
}

func (p *simPlayer) issue() {
	s := p.n.s
	if s.now >= p.stop || p.pos >= p.size {
		return
	}
	k := len(p.reads)
	seek := k == 0
	if to, ok := p.seeks[k]; ok {
		p.pos, seek = to, true
	}
	p.reads = append(p.reads, simRead{off: p.pos, issued: s.now, seek: seek})
	p.pending = true
	p.nextIssue = s.now + time.Duration(float64(p.chunk)/float64(p.rate)*float64(time.Second))
	if p.deadlines {
		if err := p.n.t.SetReader(p.id, Window{Pos: p.pos, End: p.size, Rate: p.rate}); err != nil {
			s.tb.Fatal(err)
		}
		p.n.flush()
	}
	p.check()
}

// check completes the pending read once its bytes are verified.
func (p *simPlayer) check() {
	if !p.pending {
		return
	}
	r := &p.reads[len(p.reads)-1]
	end := min(r.off+p.chunk, p.size)
	plen := p.n.t.cfg.PieceLength
	for i := r.off / plen; i <= (end-1)/plen; i++ {
		if !p.n.t.HasPiece(uint32(i)) {
			return
		}
	}
	s := p.n.s
	r.done = s.now
	p.pending = false
	p.pos = end
	s.after(max(p.nextIssue, s.now)-s.now, p.issue)
}

// streamFigures summarises a player's reads.
type streamFigures struct {
	ttfb        time.Duration   // first read's wait
	seekWaits   []time.Duration // the first read after each seek
	stalls      int             // other reads that waited more than a second
	stallTime   time.Duration
	worst       time.Duration // longest wait of the other reads
	reads       int
	downloaded  int64
	wasted      int64
	duplicated  int64
	preempted   int64
	completedAt time.Duration
}

func (p *simPlayer) figures() streamFigures {
	var f streamFigures
	for k, r := range p.reads {
		if r.done == 0 && k > 0 {
			r.done = p.n.s.now // still waiting at the end
		}
		w := r.wait()
		switch {
		case k == 0:
			f.ttfb = w
		case r.seek:
			f.seekWaits = append(f.seekWaits, w)
		default:
			f.worst = max(f.worst, w)
			if w > time.Second {
				f.stalls++
				f.stallTime += w
			}
		}
	}
	st := p.n.t.Stats()
	f.reads = len(p.reads)
	f.downloaded, f.wasted, f.duplicated, f.preempted = st.Downloaded, st.Wasted, st.Duplicated, st.Preempted
	f.completedAt = p.n.doneAt
	return f
}

func (f streamFigures) String() string {
	return fmt.Sprintf("TTFB %v, seeks %v, stalls %d (%v in all), worst other read %v, %d reads; wasted %.1f%%, %d duplicated blocks, %d preempted requests, complete at %v",
		f.ttfb, f.seekWaits, f.stalls, f.stallTime, f.worst, f.reads,
		100*float64(f.wasted)/float64(max(f.downloaded, 1)), f.duplicated, f.preempted, f.completedAt)
}

// streamSwarm is the scenario of the issue's benchmark, in virtual time:
// 256 MiB in 256 KiB pieces, 8 upload-limited seeders (five at 2 MiB/s,
// one at 1 MiB/s, one at 512 KiB/s, one at 2 MiB/s that stalls for 4 s
// every 10 s: about 12 MiB/s in all), one leecher playing at 4 MiB/s in
// 64 KiB reads. By default it seeks to 75% of the file after 4 s of
// playing, back to where it was 4 s later, then to the middle of the file
// 4 s after that; the download goes on meanwhile (the whole file is
// wanted), so queues are full when it seeks.
type streamSwarm struct {
	deadlines bool
	tickEvery time.Duration
	silent    bool // the stalling seeder never answers at all
	size      int64
	seeks     []simSeek
	cfg       Config // tuning fields (geometry is the scenario's)
}

// simSeek: after playing this long since the previous seek (or the
// start), seek to the offset (-1: back to where the previous seek left).
type simSeek struct {
	after time.Duration
	to    int64
}

func (sc streamSwarm) run(tb testing.TB) (streamFigures, *sim, *simPlayer) {
	return sc.runWith(tb, nil)
}

func (sc streamSwarm) runWith(tb testing.TB, setup func(leech *simNode)) (streamFigures, *sim, *simPlayer) {
	s := &sim{tb: tb, tickEvery: sc.tickEvery}
	const plen = 256 << 10
	size := sc.size
	if size == 0 {
		size = 256 << 20
	}
	cfg := sc.cfg
	cfg.NumPieces, cfg.PieceLength, cfg.TotalLength = int((size+plen-1)/plen), plen, size
	leech := s.node("leech", cfg, false, 1<<20)
	rates := []float64{2 << 20, 2 << 20, 2 << 20, 2 << 20, 2 << 20, 1 << 20, 512 << 10, 2 << 20}
	for k, r := range rates {
		sd := s.node(fmt.Sprintf("seed%d", k), cfg, true, r)
		sd.queued = true
		if k == len(rates)-1 {
			if sc.silent {
				sd.silent = true
			}
			for at := 3 * time.Second; at < 10*time.Minute; at += 10 * time.Second {
				sd.stalls = append(sd.stalls, stall{at, at + 4*time.Second})
			}
		}
		s.connect(leech, sd, time.Duration(5+5*(k%3))*time.Millisecond)
	}
	if setup != nil {
		setup(leech)
	}
	const rate, chunk = 4 << 20, 64 << 10
	seeks := sc.seeks
	if seeks == nil {
		seeks = []simSeek{{4 * time.Second, size / 4 * 3}, {4 * time.Second, -1}, {4 * time.Second, size / 2}}
	}
	p := &simPlayer{n: leech, id: 1, deadlines: sc.deadlines, rate: rate, chunk: chunk, size: size,
		stop: 30 * time.Second, seeks: map[int]int64{}}
	read, back := 0, int64(0)
	for _, sk := range seeks {
		n := int(sk.after / (chunk * time.Second / rate))
		to := sk.to
		if to < 0 {
			to = back
		}
		back = int64(read+n)*chunk - int64(read)*chunk // played since the previous seek...
		back += p.seeks[read]                          // ...from where it started
		read += n
		p.seeks[read] = to
	}
	p.begin()
	s.run(p.stop+30*time.Second, func() bool { return s.now >= p.stop && !p.pending })
	return p.figures(), s, p
}

// TestStreamSwarm: with deadlines the player never stalls once started,
// its first byte and every seek come in well under a second, in virtual
// time; with the plain picker (rarest first, ties random) the same swarm
// makes it wait for seconds. The leecher ticks every 100 ms, as a shell
// with a reader should.
func TestStreamSwarm(t *testing.T) {
	on, _, _ := streamSwarm{deadlines: true, tickEvery: 100 * time.Millisecond}.run(t)
	t.Logf("deadlines: %v", on)
	off, _, _ := streamSwarm{tickEvery: 100 * time.Millisecond}.run(t)
	t.Logf("plain rarest first: %v", off)
	checkStream(t, "deadlines", on, 3)
	if off.stalls == 0 || off.ttfb < time.Second {
		t.Errorf("plain picker does as well as deadlines: the test does not discriminate")
	}
}

func checkStream(t *testing.T, name string, f streamFigures, seeks int) {
	t.Helper()
	if f.ttfb >= time.Second || f.stalls != 0 || len(f.seekWaits) != seeks {
		t.Errorf("%s: %v", name, f)
	}
	for _, w := range f.seekWaits {
		if w >= time.Second {
			t.Errorf("%s: a seek waited %v", name, w)
		}
	}
}

// TestStreamSwarmSeeks: seeks to five offsets around 75% and 50% of the
// file, at either Tick rate (every second, as without readers, or every
// 100 ms): no stall, every seek under a second.
func TestStreamSwarmSeeks(t *testing.T) {
	const size = 256 << 20
	for _, tick := range []time.Duration{time.Second, 100 * time.Millisecond} {
		var worstSeek, worst time.Duration
		var wasted, down int64
		for k := int64(0); k < 5; k++ {
			seeks := []simSeek{{4 * time.Second, size/4*3 + k*size/33}, {4 * time.Second, -1}, {4 * time.Second, size/2 + k*size/33}}
			f, _, _ := streamSwarm{deadlines: true, tickEvery: tick, seeks: seeks}.run(t)
			checkStream(t, fmt.Sprintf("tick %v, seek %d", tick, k), f, 3)
			worstSeek = max(worstSeek, slices.Max(f.seekWaits))
			worst = max(worst, f.worst, f.ttfb)
			wasted += f.wasted
			down += f.downloaded
		}
		t.Logf("tick every %v: worst seek %v, worst other read %v, %.2f%% wasted", tick, worstSeek, worst, 100*float64(wasted)/float64(down))
	}
}

// TestStreamSwarmSilentPeer: one of the eight seeders accepts requests and
// never answers. The blocks it holds of pieces the player needs are
// requested from other peers long before the snub timeout, and the player
// never stalls.
func TestStreamSwarmSilentPeer(t *testing.T) {
	type blk struct{ piece, begin uint32 }
	holder := map[blk]string{}
	rescued := 0
	f, _, p := streamSwarm{deadlines: true, silent: true, tickEvery: 100 * time.Millisecond}.runWith(t, func(n *simNode) {
		n.trace = func(to string, m Message) {
			b := blk{m.Piece, m.Begin}
			switch m.Kind {
			case MsgRequest:
				if holder[b] == "seed7" && to != "seed7" && n.t.dl.has(m.Piece) {
					rescued++
				}
				if _, ok := holder[b]; !ok {
					holder[b] = to
				}
			case MsgCancel:
				if holder[b] == to {
					delete(holder, b)
				}
			}
		}
	})
	t.Logf("silent seeder: %v; %d of its blocks of window pieces requested elsewhere", f, rescued)
	checkStream(t, "silent seeder", f, 3)
	if rescued == 0 {
		t.Error("no block held by the silent seeder was requested elsewhere")
	}
	if ps, ok := p.n.t.PeerStats(p.n.list[len(p.n.list)-1].id); ok && ps.Snubbed && p.n.s.now < 20*time.Second {
		t.Error("snubbed before the snub timeout")
	}
}

// TestStreamTwoReaders: two players at once, from the start and from the
// middle of the file, each at 4 MiB/s (8 MiB/s of the swarm's 12): neither
// stalls.
func TestStreamTwoReaders(t *testing.T) {
	var second *simPlayer
	f, s, _ := streamSwarm{deadlines: true, tickEvery: 100 * time.Millisecond, seeks: []simSeek{}}.runWith(t, func(n *simNode) {
		second = &simPlayer{n: n, id: 2, deadlines: true, rate: 4 << 20, chunk: 64 << 10, size: n.t.cfg.TotalLength,
			pos: n.t.cfg.TotalLength / 2, start: 500 * time.Millisecond, stop: 30 * time.Second, seeks: map[int]int64{}}
		second.begin()
	})
	_ = s
	g := second.figures()
	t.Logf("first reader: %v", f)
	t.Logf("second reader: %v", g)
	checkStream(t, "first reader", f, 0)
	checkStream(t, "second reader", g, 0)
}

package core

import (
	"fmt"
	"testing"
	"time"
)

// A peer that accepts requests and never answers is snubbed after
// SnubTimeout; its requests are cancelled and served by the honest seeder,
// and the download completes.
func TestSwarmSilentPeerSnubbed(t *testing.T) {
	s := &sim{tb: t}
	cfg := simConfig(64, 64<<10)
	honest := s.node("honest", cfg, true, 128<<10)
	silent := s.node("silent", cfg, true, 1<<20)
	silent.silent = true
	leech := s.node("leech", cfg, false, 1<<20)
	s.connect(leech, honest, 20*time.Millisecond)
	s.connect(leech, silent, 20*time.Millisecond)
	if !s.run(10*time.Minute, allDone(leech)) {
		t.Fatalf("not complete by %v: %+v", s.now, leech.t.Stats())
	}
	if !leech.snubbed[silent] {
		t.Errorf("silent peer never snubbed")
	}
	if leech.snubbed[honest] {
		t.Errorf("honest peer snubbed")
	}
	if leech.cancelsTo[silent] == 0 {
		t.Errorf("no cancels sent to the silent peer")
	}
	// The whole torrent came from the honest seeder.
	if honest.uploaded < cfg.TotalLength {
		t.Errorf("honest seeder uploaded %d < %d", honest.uploaded, cfg.TotalLength)
	}
	t.Logf("completed at %v; cancels to silent peer: %d", s.now, leech.cancelsTo[silent])
}

// A seeder that sends corrupt data is charged and banned; the leechers
// complete from the honest seeder and never accept a corrupt piece.
func TestSwarmCorruptPeerBanned(t *testing.T) {
	s := &sim{tb: t}
	cfg := simConfig(64, 64<<10)
	honest := s.node("honest", cfg, true, 512<<10)
	evil := s.node("evil", cfg, true, 2<<20)
	evil.corrupt = true
	var leechers []*simNode
	for i := range 3 {
		leechers = append(leechers, s.node(fmt.Sprintf("leech%d", i), cfg, false, 512<<10))
	}
	for i, a := range s.nodes {
		for j := i + 1; j < len(s.nodes); j++ {
			if a.t.Seeding() && s.nodes[j].t.Seeding() {
				continue
			}
			s.connect(a, s.nodes[j], lat(i, j))
		}
	}
	if !s.run(10*time.Minute, allDone(leechers...)) {
		t.Fatalf("not complete by %v", s.now)
	}
	for _, l := range leechers {
		d, ok := l.dropped[evil]
		if !ok || !d.Ban || d.Reason != ReasonBadData {
			t.Errorf("%s: evil peer not banned for bad data: %+v %v", l.name, d, ok)
		}
		if d, ok := l.dropped[honest]; ok && d.Reason != ReasonBothSeeds {
			t.Errorf("%s dropped the honest seeder: %+v", l.name, d)
		}
		if l.t.Stats().HashFails == 0 {
			t.Errorf("%s saw no hash failure", l.name)
		}
		if len(l.bad) != 0 {
			t.Errorf("%s holds corrupt blocks after completion", l.name)
		}
	}
}

// A seeder with more interested leechers than slots unchokes every one of
// them in turn; the leechers are not connected to each other.
func TestSwarmSeedChokingRotates(t *testing.T) {
	s := &sim{tb: t}
	cfg := simConfig(128, 64<<10)
	seed := s.node("seed", cfg, true, 512<<10)
	var leechers []*simNode
	for i := range 8 {
		l := s.node(fmt.Sprintf("leech%d", i), cfg, false, 512<<10)
		leechers = append(leechers, l)
		s.connect(seed, l, lat(0, i))
	}
	if !s.run(30*time.Minute, allDone(leechers...)) {
		t.Fatalf("not complete by %v", s.now)
	}
	var last time.Duration
	for _, l := range leechers {
		at, ok := seed.unchoked[l]
		if !ok {
			t.Fatalf("%s never unchoked", l.name)
		}
		last = max(last, at)
	}
	// Five peers (four regular, one optimistic) start; the other three get
	// their turn when the first turns end, not when the first finish.
	firstDone := s.now
	for _, l := range leechers {
		firstDone = min(firstDone, l.doneAt)
	}
	if last >= firstDone {
		t.Errorf("last leecher first unchoked at %v, after the first completed at %v", last, firstDone)
	}
	t.Logf("all unchoked by %v; first done %v; all done %v", last, firstDone, s.now)
}

// Three leechers hold the first 96 of 128 pieces; a fourth joins with
// nothing. Rarest first sends every leecher to the seeder for the 32 rare
// pieces only: the common ones travel between leechers. (Random picking
// makes the seeder serve common pieces too.)
func TestSwarmRarestFirstSpreadsRarePieces(t *testing.T) {
	for _, rf := range []int{-1, 1 << 30} {
		s := &sim{tb: t}
		cfg := simConfig(128, 64<<10)
		cfg.RandomFirst = rf
		seed := s.node("seed", cfg, true, 256<<10)
		var leechers []*simNode
		for i := range 4 {
			l := s.node(fmt.Sprintf("leech%d", i), cfg, false, 1<<20)
			if i < 3 {
				for p := range uint32(96) {
					l.t.SetHave(p)
				}
			}
			leechers = append(leechers, l)
		}
		for i, a := range s.nodes {
			for j := i + 1; j < len(s.nodes); j++ {
				s.connect(a, s.nodes[j], lat(i, j))
			}
		}
		if !s.run(10*time.Minute, allDone(leechers...)) {
			t.Fatalf("random first %d: not complete by %v", rf, s.now)
		}
		common := 0
		for p := range seed.served {
			if p < 96 {
				common++
			}
		}
		t.Logf("random first %d: seeder served %d pieces (%d common), %.2f MiB", rf, len(seed.served), common, float64(seed.uploaded)/(1<<20))
		if rf < 0 && common != 0 {
			t.Errorf("rarest first: the seeder served %d pieces the leechers had", common)
		}
		if rf > 0 && common == 0 {
			t.Errorf("random picking served no common piece: the test does not discriminate")
		}
	}
}

// A seeder that also pushes blocks nobody asked for is dropped at its first
// unrequested block; the leecher completes from the honest seeder.
func TestSwarmUnrequestedDataDropped(t *testing.T) {
	s := &sim{tb: t}
	cfg := simConfig(64, 64<<10)
	honest := s.node("honest", cfg, true, 256<<10)
	pusher := s.node("pusher", cfg, true, 256<<10)
	leech := s.node("leech", cfg, false, 1<<20)
	s.connect(leech, honest, 20*time.Millisecond)
	s.connect(leech, pusher, 20*time.Millisecond)
	var c *simConn
	for _, x := range pusher.list {
		if x.remote == leech {
			c = x
		}
	}
	s.after(500*time.Millisecond, func() {
		c.send(func(r *simConn) {
			// A block of a piece nobody was asked for (no progress record).
			piece := -1
			for i := range r.local.t.n {
				if r.local.t.rec[i] < 0 {
					piece = i
					break
				}
			}
			if piece < 0 {
				t.Fatal("every piece in flight")
			}
			if v := r.local.t.BlockReceived(r.id, uint32(piece), 0, BlockSize, nil); v != BlockViolation {
				t.Errorf("unrequested block: %v", v)
			}
		})
	})
	if !s.run(10*time.Minute, allDone(leech)) {
		t.Fatalf("not complete by %v", s.now)
	}
	if d, ok := leech.dropped[pusher]; !ok || d.Reason != ReasonUnrequested || d.Ban {
		t.Fatalf("pusher drop %+v %v, want ReasonUnrequested without ban", d, ok)
	}
	if d, ok := leech.dropped[honest]; ok && d.Reason != ReasonBothSeeds {
		t.Fatalf("honest seeder dropped: %+v", d)
	}
}

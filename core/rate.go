package core

import (
	"math"
	"time"
)

// rate is an exponentially weighted byte rate driven by the abstract clock:
// bytes accumulate between ticks and each tick folds them in with a weight
// that depends on the elapsed time, so irregular ticks give the same
// estimate as regular ones.
type rate struct {
	acc  int64   // bytes since the last tick
	bps  float64 // bytes per second
	peak float64
	// w is the weight the estimate has gathered since the first tick
	// that saw bytes (1 - the weight of the zero it started from).
	w float64
}

func (r *rate) add(n int64) { r.acc += n }

// tick folds the bytes since the last tick into the estimate; alpha is
// 1 - exp(-dt/window).
func (r *rate) tick(dt time.Duration, alpha float64) {
	inst := float64(r.acc) / dt.Seconds()
	if r.acc > 0 || r.w > 0 {
		r.w += alpha * (1 - r.w)
	}
	r.acc = 0
	r.bps += alpha * (inst - r.bps)
	r.peak = max(r.peak, r.bps)
}

// est is the rate since bytes first came, without the bias toward the
// zero the average starts from (bps lags a new peer's rate by seconds);
// zero before any.
func (r *rate) est() float64 {
	if r.w <= 0 {
		return 0
	}
	return r.bps / r.w
}

func decay(dt, window time.Duration) float64 {
	return 1 - math.Exp(-dt.Seconds()/window.Seconds())
}

// Tick advances the abstract clock to now (the time on the shell's
// monotonic clock since any fixed origin; it never goes backwards, earlier
// values are ignored). Call it about once a second. It updates the rate
// estimators, resizes request pipelines, snubs peers whose requests went
// unanswered for SnubTimeout (their requests go to other peers), and runs
// the choker when due. While a reader streams (SetReader), ticking every
// 100 ms dates deadlines and late requests more finely; the per-second
// rules (MaxChatter, slow start) stay per second.
func (t *Torrent) Tick(now time.Duration) {
	if t.ticked && now <= t.now {
		return
	}
	if !t.ticked {
		t.ticked = true
		t.now = now
		t.secondAt = now
		t.nextRechoke = now + t.cfg.RechokeInterval
		t.nextOptim = now
		for _, p := range t.live {
			p.connectedAt, p.chokedAt, p.lastProgress = now, now, now
		}
		t.rechoke()
		return
	}
	dt := now - t.now
	t.now = now
	t.tickDt = dt
	alpha := decay(dt, t.cfg.RateWindow)
	t.down.tick(dt, alpha)
	t.up.tick(dt, alpha)
	// Per-second rules stay per second however often the shell ticks
	// (faster while streaming).
	second := now-t.secondAt >= time.Second
	if second {
		t.secondAt = now
	}
	t.bestRate = 0
	for _, p := range t.scratchLive() {
		if second {
			p.chatter = 0
		}
		if p.hadOut && p.down.acc == 0 {
			p.idle += dt
		} else {
			p.idle = 0
		}
		p.hadOut = p.outstanding() > 0
		p.down.tick(dt, alpha)
		p.up.tick(dt, alpha)
		if !p.snubbed {
			t.bestRate = max(t.bestRate, p.down.est())
		}
	}
	t.nfast = 0
	for _, p := range t.scratchLive() {
		if !p.peerChoking && t.fast(p) {
			t.nfast++
		}
	}
	for _, p := range t.scratchLive() {
		t.resize(p, second)
		if p.outstanding() > 0 && now-p.lastProgress >= t.cfg.SnubTimeout {
			t.snub(p)
		}
		t.expire(p)
	}
	t.lateScanned = false
	if t.dqStart < len(t.dq) {
		// Deadlines fall due and peers turn late as time passes: peers
		// that found nothing to pick may now find urgent work.
		t.bump()
	}
	if now >= t.nextRechoke {
		t.nextRechoke = now + t.cfg.RechokeInterval
		t.rechoke()
	}
}

// resize sets the peer's pipeline from its measured rate: about
// RequestQueueTime worth of blocks. In slow start the target grows by one
// per block received until the rate stops growing.
func (t *Torrent) resize(p *peer, second bool) {
	if p.snubbed {
		p.target = 1
		return
	}
	want := int(p.down.bps * t.queueTime().Seconds() / BlockSize)
	if p.slowStart {
		if second {
			if p.down.bps > 0 && p.down.bps < p.lastRate*1.1 {
				p.slowStart = false
			}
			p.lastRate = p.down.bps
		}
		want = max(want, p.target)
	}
	old := p.target
	p.target = min(max(want, t.cfg.MinRequests), t.maxTarget(p))
	if p.target > old {
		t.markDirty(p)
	}
}

// queueTime is how much work, in time at a peer's rate, its pipeline
// holds.
func (t *Torrent) queueTime() time.Duration {
	if len(t.readers) > 0 {
		// Peers serve requests in order: while someone streams, short
		// queues let urgent requests through sooner.
		return min(t.cfg.RequestQueueTime, t.cfg.StreamQueueTime)
	}
	return t.cfg.RequestQueueTime
}

// snub cancels the requests of a peer that stopped answering and hands them
// to the other peers; the peer keeps one request in flight until it sends a
// block again.
func (t *Torrent) snub(p *peer) {
	p.snubbed = true
	p.slowStart = false
	p.target = 1
	p.lastProgress = t.now
	t.setCur(p, -1)
	t.releaseAll(p, true)
}

// expire cancels requests that a peer which otherwise answers left
// unanswered for SnubTimeout (it dropped them silently), so their blocks go
// back to the pool. Requests are kept oldest first, so only the head is
// examined.
func (t *Torrent) expire(p *peer) {
	expired := false
	for p.outstanding() > 0 {
		o := p.out[p.outHead]
		if t.now-o.at < t.cfg.SnubTimeout {
			break
		}
		p.removeOut(o.ref)
		t.unrequest(p, o.ref)
		p.addLate(o.ref)
		t.emit(p, MsgCancel, o.ref.piece, o.ref.block*BlockSize, t.blockLen(o.ref.piece, int(o.ref.block)))
		expired = true
	}
	if expired {
		t.markDirty(p)
		t.bump()
	}
}

package utp

import "time"

// LEDBAT and RTT constants (BEP 29, RFC 6817, libutp's choices).
const (
	targetDelay     = 100 * time.Millisecond // queuing delay LEDBAT aims for
	baseHistory     = 13                     // minutes of base-delay history (libutp: 13)
	curDelaySamples = 3                      // the current-delay filter: min of the last 3
	minGain         = 3000                   // bytes per RTT at most (libutp's MAX_CWND_INCREASE_BYTES_PER_RTT)
	minRTO          = 500 * time.Millisecond // BEP 29: timeout = max(rtt + 4*rtt_var, 500 ms)
	initialRTO      = time.Second
	maxRTO          = 60 * time.Second
)

// ledbat is one connection's congestion window (bytes). It is a pure value:
// the connection feeds it delay samples, acked bytes and losses, with the
// time passed in, so tests drive it exactly.
type ledbat struct {
	cwnd      float64 // max bytes in flight
	ssthresh  float64
	slowStart bool
	mss       float64 // payload bytes per full packet: the floor and the gain's unit
	maxCwnd   float64

	base      [baseHistory]uint32 // per-minute minima of the one-way delay samples
	baseValid int                 // how many of base are filled
	baseAt    time.Time           // when base[0]'s minute started
	cur       [curDelaySamples]uint32
	curN      int
	curIdx    int
	ourDelay  time.Duration // filtered queuing delay, the last computed
	haveDelay bool
}

func newLedbat(mss, maxCwnd int) ledbat {
	return ledbat{
		cwnd:      float64(2 * mss),
		ssthresh:  float64(maxCwnd),
		slowStart: true,
		mss:       float64(mss),
		maxCwnd:   float64(maxCwnd),
	}
}

// setMSS changes the packet size (after negotiation), keeping the window in
// packets' terms sensible.
func (l *ledbat) setMSS(mss int) {
	l.mss = float64(mss)
	if l.cwnd < 2*l.mss {
		l.cwnd = 2 * l.mss
	}
}

// wrapLess compares two timestamp differences: they live on a wrapping
// 32-bit microsecond clock whose offset is arbitrary.
func wrapLess(a, b uint32) bool { return int32(a-b) < 0 }

// sample records a one-way delay sample (the peer's timestamp difference
// for our packets) taken at now, and returns the filtered queuing delay.
// rtt bounds it: a queuing delay longer than the round trip is clock drift.
func (l *ledbat) sample(d uint32, now time.Time, rtt time.Duration) time.Duration {
	if l.baseValid == 0 {
		l.base[0] = d
		l.baseValid = 1
		l.baseAt = now
	} else {
		// Rotate one bucket per elapsed minute, bounded by the history size.
		for i := 0; i < baseHistory && now.Sub(l.baseAt) >= time.Minute; i++ {
			copy(l.base[1:], l.base[:baseHistory-1])
			l.base[0] = d
			if l.baseValid < baseHistory {
				l.baseValid++
			}
			l.baseAt = l.baseAt.Add(time.Minute)
		}
		if now.Sub(l.baseAt) >= time.Minute { // a long gap: start the minute now
			l.baseAt = now
		}
		if wrapLess(d, l.base[0]) {
			l.base[0] = d
		}
	}
	base := l.base[0]
	for i := 1; i < l.baseValid; i++ {
		if wrapLess(l.base[i], base) {
			base = l.base[i]
		}
	}
	l.cur[l.curIdx] = d - base
	l.curIdx = (l.curIdx + 1) % curDelaySamples
	if l.curN < curDelaySamples {
		l.curN++
	}
	m := l.cur[0]
	for i := 1; i < l.curN; i++ {
		if l.cur[i] < m {
			m = l.cur[i]
		}
	}
	q := time.Duration(m) * time.Microsecond
	if rtt > 0 && q > rtt {
		q = rtt
	}
	l.ourDelay = q
	l.haveDelay = true
	return q
}

// baseDelay is the minimum over the history (for tests and stats).
func (l *ledbat) baseDelay() uint32 {
	base := l.base[0]
	for i := 1; i < l.baseValid; i++ {
		if wrapLess(l.base[i], base) {
			base = l.base[i]
		}
	}
	return base
}

// gain is the most the window grows per RTT: GAIN (1) times the packet
// size, never below libutp's 3000 bytes.
func (l *ledbat) gain() float64 {
	if l.mss > minGain {
		return l.mss
	}
	return minGain
}

// acked grows or shrinks the window for bytesAcked newly acknowledged
// bytes. limited says the sender was window-limited since the last ack; an
// application-limited sender does not grow its window (cwnd validation).
func (l *ledbat) acked(bytesAcked int, limited bool) {
	if bytesAcked <= 0 || !l.haveDelay {
		return
	}
	b := float64(bytesAcked)
	offTarget := float64(targetDelay-l.ourDelay) / float64(targetDelay)
	var scaled float64
	if offTarget >= 0 {
		// Below target: additive increase, at most gain bytes per RTT.
		windowFactor := min(b, l.cwnd) / max(l.cwnd, b)
		scaled = l.gain() * windowFactor * offTarget
		if !limited {
			scaled = 0
		}
	} else {
		// Above target: multiplicative decrease (LEDBAT++): over one
		// window of acks the window shrinks by the fraction the delay
		// exceeds the target, at most half. BEP 29's linear decrease (a
		// few KB per RTT) takes tens of seconds to leave a link that a
		// TCP flow has started to use.
		scaled = -min(-offTarget, 0.5) * b
	}
	if l.slowStart {
		switch {
		case l.ourDelay > targetDelay*9/10:
			l.slowStart = false
			l.ssthresh = l.cwnd
		case limited:
			ss := l.cwnd + b
			if ss > l.ssthresh {
				l.slowStart = false
			} else if ss > l.cwnd+scaled {
				scaled = ss - l.cwnd
			}
		}
	}
	l.cwnd += scaled
	l.clamp()
}

// lost halves the window for a loss event (one per window).
func (l *ledbat) lost() {
	l.cwnd /= 2
	l.slowStart = false
	l.ssthresh = l.cwnd
	l.clamp()
}

// timedOut collapses the window to one packet; slow start resumes up to
// half the old window.
func (l *ledbat) timedOut() {
	l.ssthresh = max(l.cwnd/2, 2*l.mss)
	l.cwnd = l.mss
	l.slowStart = true
}

func (l *ledbat) clamp() {
	if l.cwnd < l.mss {
		l.cwnd = l.mss
	}
	if l.cwnd > l.maxCwnd {
		l.cwnd = l.maxCwnd
	}
}

// rttEstimator is BEP 29's smoothed RTT and timeout, with exponential
// backoff on consecutive timeouts.
type rttEstimator struct {
	rtt, rttVar time.Duration // zero until the first sample
	rto         time.Duration
}

func newRTT() rttEstimator { return rttEstimator{rto: initialRTO} }

// sample takes one round-trip measurement (from a packet sent once).
func (r *rttEstimator) sample(m time.Duration) {
	if m < 0 {
		return
	}
	if r.rtt == 0 {
		r.rtt = m
		r.rttVar = m / 2
	} else {
		delta := r.rtt - m
		if delta < 0 {
			delta = -delta
		}
		r.rttVar += (delta - r.rttVar) / 4
		r.rtt += (m - r.rtt) / 8
	}
	r.rto = max(r.rtt+4*r.rttVar, minRTO)
}

// backoff doubles the timeout after an expiry, up to maxRTO.
func (r *rttEstimator) backoff() {
	r.rto = min(2*r.rto, maxRTO)
}

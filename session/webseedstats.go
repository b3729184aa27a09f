package session

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/webseed"
)

// What Stats says of the web seeds.

// WebSeedState is where a web seed stands, in Stats.
type WebSeedState uint8

// States of a web seed.
const (
	// WebSeedIdle: not fetching, because no wanted piece is missing (or
	// the check is not over).
	WebSeedIdle WebSeedState = iota + 1
	// WebSeedActive: a source of pieces for the core's picker.
	WebSeedActive
	// WebSeedBackingOff: a request failed (5xx, timeout, connection
	// error, malformed answer); asked again from RetryAt.
	WebSeedBackingOff
	// WebSeedDropped: not used again in this session (data that failed
	// verification MaxStrikes times, no file of the torrent there, or a
	// URL refused).
	WebSeedDropped
)

var webSeedStateNames = [...]string{"", "idle", "active", "backing off", "dropped"}

// String returns the state's name.
func (s WebSeedState) String() string {
	if int(s) < len(webSeedStateNames) && s != 0 {
		return webSeedStateNames[s]
	}
	return fmt.Sprintf("webseedstate(%d)", uint8(s))
}

// WebSeedStats describes one web seed of a session.
type WebSeedStats struct {
	URL   string // without its query
	State WebSeedState
	// Downloaded is the payload bytes received from it (including blocks
	// later discarded); DownloadRate its rate now, in bytes per second.
	Downloaded   int64
	DownloadRate float64
	Requests     int64     // HTTP requests sent
	Errors       int64     // failed requests
	Strikes      int       // pieces it sent that failed verification, as charged
	Unservable   int       // pieces it cannot serve (a file missing there)
	RetryAt      time.Time // the end of the backoff, when BackingOff
	// LastError is the last failure (for a dropped seed, why it was
	// dropped); nil if none.
	LastError error
}

// webTally lets Stats read the seeds' byte counts from any goroutine.
type webTally struct {
	seeds atomic.Pointer[[]*webseed.Seed]
}

// add publishes a new seed (server goroutine only).
func (t *webTally) add(ws *webseed.Seed) {
	var next []*webseed.Seed
	if p := t.seeds.Load(); p != nil {
		next = slices.Clone(*p)
	}
	next = append(next, ws)
	t.seeds.Store(&next)
}

// bytes returns the payload bytes received from every web seed so far.
func (t *webTally) bytes() int64 {
	p := t.seeds.Load()
	if p == nil {
		return 0
	}
	var n int64
	for _, ws := range *p {
		n += ws.Stats().Bytes
	}
	return n
}

// webSeedsTick samples the web-seed byte count for its rate, and takes
// out of the core the seeds that have nothing we want (wantless).
func (srv *server) webSeedsTick(now time.Time) {
	w := &srv.web
	if len(w.seeds) == 0 {
		return
	}
	for _, s := range w.seeds {
		if s.id == core.NoPeer || len(s.runs)+len(s.pending) > 0 {
			continue
		}
		if cs, ok := srv.core.PeerStats(s.id); ok && !cs.AmInterested {
			srv.unregisterSeed(s)
			s.wantless = true
		}
	}
	w.rates.update(now, srv.s.web.bytes(), 0)
	if !w.active() {
		w.rates.down = 0
	}
}

// webSeedStats describes the seeds for Stats.
func (srv *server) webSeedStats() []WebSeedStats {
	w := &srv.web
	if len(w.seeds) == 0 {
		return nil
	}
	out := make([]WebSeedStats, 0, len(w.seeds))
	for _, s := range w.seeds {
		ss := WebSeedStats{URL: s.url, State: WebSeedIdle}
		if s.ws == nil {
			ss.State, ss.LastError = WebSeedDropped, s.err
			out = append(out, ss)
			continue
		}
		st := s.ws.Stats()
		ss.Downloaded, ss.Requests, ss.Errors = st.Bytes, st.Requests, st.Errors
		ss.Strikes, ss.Unservable, ss.LastError = st.Strikes, st.Unservable, st.LastError
		switch {
		case s.gone:
			ss.State = WebSeedDropped
			if st.DropReason != nil {
				ss.LastError = st.DropReason
			}
		case st.State == webseed.BackingOff:
			ss.State, ss.RetryAt = WebSeedBackingOff, st.RetryAt
		case s.id != core.NoPeer:
			ss.State = WebSeedActive
		}
		if s.id != core.NoPeer {
			if cs, ok := srv.core.PeerStats(s.id); ok {
				ss.DownloadRate = cs.DownloadRate
			}
		}
		out = append(out, ss)
	}
	return out
}

package client

import (
	"context"
	"fmt"

	"github.com/effusion-bt/effusion/bitset"
	"github.com/effusion-bt/effusion/session"
	"github.com/effusion-bt/effusion/tracker"
)

// Process is one state machine of the client, as a processes view shows
// it: a session, a peer connection process, an announcer, or the
// listener's acceptor pool.
type Process struct {
	session.Process
	// InfoHash and Torrent name the torrent the machine works for; zero
	// and "" for the client's own machines (the acceptor pool).
	InfoHash [20]byte
	Torrent  string
}

// Processes lists every state machine of the client: the listener's
// acceptor pool, then for each running torrent (in Torrents' order) its
// session, peer connection processes and announcer. Listing waits briefly
// on each session's goroutine (between its events); ctx bounds the whole,
// and a session that ends meanwhile is left out. It fails only with
// ctx.Err().
func (c *Client) Processes(ctx context.Context) ([]Process, error) {
	out := []Process{{Process: session.Process{
		Kind: "acceptor", Name: fmt.Sprintf("peer listener %v", c.listener.Addr()), Machine: c.listener.Machine(),
	}}}
	for _, t := range c.Torrents() {
		t.mu.Lock()
		s := t.sess
		t.mu.Unlock()
		if s == nil {
			continue
		}
		ps, err := s.Processes(ctx)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if err != nil {
			continue // stopped meanwhile
		}
		for _, p := range ps {
			out = append(out, Process{Process: p, InfoHash: t.infoHash, Torrent: t.Name()})
		}
	}
	return out, nil
}

// Timings returns how long hashing a received piece and writing a verified
// one took, over every torrent since New (see session.Env.Timings).
func (c *Client) Timings() (hash, write session.Histogram) { return c.env.Timings() }

// Counters returns the pieces verified and failed and the peers banned by
// the torrent's current session (zero while it does not run; they start
// again from zero at every start).
func (t *Torrent) Counters() session.Counters {
	t.mu.Lock()
	s := t.sess
	t.mu.Unlock()
	if s == nil {
		return session.Counters{}
	}
	return s.Counters()
}

// TrackerStatus returns the status of the torrent's announcer; false when
// it has none running (paused, no trackers, or still checking). ctx bounds
// the wait for the session's goroutine.
func (t *Torrent) TrackerStatus(ctx context.Context) (tracker.AnnouncerStatus, bool) {
	t.mu.Lock()
	s := t.sess
	t.mu.Unlock()
	if s == nil {
		return tracker.AnnouncerStatus{}, false
	}
	st, ok, err := s.TrackerStatus(ctx)
	return st, ok && err == nil
}

// Have returns the verified pieces (while paused, those the resume store
// vouches for; none before a magnet's metadata). The set is a copy.
func (t *Torrent) Have() bitset.Set {
	t.mu.Lock()
	s, resume, mi := t.sess, t.resume, t.mi
	t.mu.Unlock()
	switch {
	case mi == nil:
		return bitset.New(0) // a magnet's: no pieces known yet
	case s != nil:
		return s.Have()
	case resume != nil:
		return resume.Have.Clone()
	}
	return bitset.New(mi.Info.NumPieces())
}

// PiecesChecked returns how many pieces the current session's start-up
// check hashed (those the resume store could not vouch for); 0 while the
// torrent does not run.
func (t *Torrent) PiecesChecked() int { return t.sessionStats().PiecesChecked }

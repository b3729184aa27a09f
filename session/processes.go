package session

import (
	"context"
	"fmt"

	"github.com/effusion-bt/effusion/connection"
	"github.com/effusion-bt/effusion/statem"
	"github.com/effusion-bt/effusion/tracker"
)

// machineLog is how many trace events each of a session's machines keeps
// for its status (statem.WithLog): what a processes view shows as recent
// events.
const machineLog = 16

// Process is one of a session's state machines, as a tool that shows them
// sees it.
type Process struct {
	// Kind is "session", "peer" (a peer's connection process) or
	// "announcer".
	Kind string
	// Name tells machines of a kind apart: the info-hash (session), the
	// peer's address, "trackers" (announcer).
	Name    string
	Machine statem.Inspectable
}

// Processes lists the session's machines: the session itself, each peer
// connection process (outgoing ones being dialled or backing off too) and
// the announcer. The list is taken between events on the session's
// goroutine; ctx bounds the wait. It fails with the session's exit error
// once it has ended.
func (s *Session) Processes(ctx context.Context) ([]Process, error) {
	out := []Process{{Kind: "session", Name: fmt.Sprintf("%x", s.infoHash), Machine: s.m}}
	err := s.m.ReplaceState(ctx, func(ph Phase, srv *server) (Phase, *server) {
		seen := make(map[*connection.Conn[*peerProc]]bool, len(srv.procs))
		for a, c := range srv.procs {
			seen[c] = true
			out = append(out, Process{Kind: "peer", Name: a.String(), Machine: c.Machine()})
		}
		for p := range srv.peers {
			if c, ok := p.owner.(*connection.Conn[*peerProc]); ok && !seen[c] {
				seen[c] = true
				out = append(out, Process{Kind: "peer", Name: p.addr.String(), Machine: c.Machine()})
			}
		}
		if srv.announcer != nil {
			out = append(out, Process{Kind: "announcer", Name: "trackers", Machine: srv.announcer.Machine()})
		}
		return ph, srv
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// TrackerStatus returns the announcer's status, false when the session
// has none (no trackers, or not announcing yet). ctx bounds the wait for
// the session's goroutine.
func (s *Session) TrackerStatus(ctx context.Context) (tracker.AnnouncerStatus, bool, error) {
	var a *tracker.Announcer
	err := s.m.ReplaceState(ctx, func(ph Phase, srv *server) (Phase, *server) {
		a = srv.announcer
		return ph, srv
	})
	if err != nil || a == nil {
		return tracker.AnnouncerStatus{}, false, err
	}
	return a.Status(), true, nil
}

// SetRateLimits changes the session's own limits (payload bytes per
// second; 0: unlimited) at once; the environment's limits apply on top.
// Safe for concurrent use.
func (s *Session) SetRateLimits(down, up int) {
	s.facts.down.set(down)
	s.facts.up.set(up)
}

package session

import (
	"context"
	"net/netip"

	"github.com/effusion-bt/effusion/tracker"
)

// startAnnouncer starts the torrent's announcer (started now, completed
// and stopped later), unless there are no trackers or Config.NoTrackers.
// A failure to start is logged, not fatal: peers may come from elsewhere.
func (srv *server) startAnnouncer() {
	var tiers [][]string
	switch {
	case srv.cfg.Torrent != nil:
		tiers = srv.cfg.Torrent.Trackers()
	case srv.cfg.Magnet != nil:
		tiers = srv.cfg.Magnet.TrackerTiers()
	}
	if srv.cfg.NoTrackers || len(tiers) == 0 {
		return
	}
	s := srv.s
	f := srv.f
	var port uint16
	if a := srv.listener.Addr(); a.IsValid() {
		port = a.Port()
	}
	a, err := tracker.StartAnnouncer(context.Background(), tracker.AnnouncerConfig{
		Tiers:    tiers,
		InfoHash: f.infoHash,
		PeerID:   f.peerID,
		Port:     port,
		Stats: func() (up, down, left int64) {
			st := s.Stats()
			if st.Phase == Metadata {
				return st.Uploaded, st.Downloaded, 1 // unknown yet: not a seeder
			}
			return st.Uploaded, st.Downloaded, st.Left
		},
		OnPeers: func(peers []netip.AddrPort) {
			if len(peers) > 0 {
				s.post(evAddPeers{append([]netip.AddrPort(nil), peers...)})
			}
		},
		Logger: srv.log,
	})
	if err != nil {
		srv.log.Warn("not announcing", "err", err)
		return
	}
	srv.announcer = a
}

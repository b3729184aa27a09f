package session

import (
	"net/netip"
	"slices"
	"time"
)

// Stats is a snapshot of a session, refreshed about once a second and on
// every phase change.
type Stats struct {
	Phase       Phase
	PiecesHave  int // verified pieces
	PiecesTotal int // pieces in the torrent
	// PiecesChecked is how many pieces the start-up check hashed (those a
	// Resume did not vouch for).
	PiecesChecked int
	Length        int64 // the torrent's total length in bytes
	Left          int64 // bytes of wanted pieces not yet verified
	// Downloaded and Uploaded are payload bytes received and sent since
	// Start (including data later discarded).
	Downloaded, Uploaded int64
	// DownloadRate and UploadRate are payload bytes per second over the
	// last few seconds.
	DownloadRate, UploadRate float64
	Peers                    int // connected peers
	Elapsed                  time.Duration
	PeerStats                []PeerStats
	// MetadataHave and MetadataPieces are the metadata exchange's progress
	// in the Metadata phase (16 KiB pieces of the info dictionary).
	MetadataHave, MetadataPieces int
	// WebSeedDownloaded and WebSeedRate are the part of Downloaded and
	// DownloadRate that came from web seeds (BEP 19); WebSeeds describes
	// each (once the check is over).
	WebSeedDownloaded int64
	WebSeedRate       float64
	WebSeeds          []WebSeedStats
}

// PeerStats describes one connected peer.
type PeerStats struct {
	Addr       netip.AddrPort
	Client     string // "v" of its extension handshake, if any
	Outgoing   bool   // we dialled it
	Fast       bool   // BEP 6 negotiated
	Encrypted  bool   // MSE with RC4 (an *mse.Conn)
	Transport  string // "tcp" or "utp"
	Choking    bool   // we choke it
	Interested bool   // we are interested in it
	// PeerChoking and PeerInterested are the peer's side.
	PeerChoking, PeerInterested bool
	Optimistic                  bool    // it holds our optimistic unchoke
	Snubbed                     bool    // it left our requests unanswered too long
	Pieces                      int     // pieces it has
	Outstanding                 int     // our requests in flight to it
	DownloadRate, UploadRate    float64 // bytes/s from it and to it
	Downloaded                  int64   // payload bytes received from it
	Uploaded                    int64   // payload bytes sent to it
	Queued                      int     // its requests waiting to be served
}

// Stats returns the latest snapshot. It never blocks.
func (s *Session) Stats() Stats {
	p := s.stats.Load()
	if p == nil {
		return Stats{Phase: Checking}
	}
	st := *p
	st.Downloaded, st.Uploaded = s.transferred()
	st.WebSeedDownloaded = s.web.bytes()
	if f := s.facts; f != nil && st.Phase != Checking && st.Phase != Metadata {
		if g := f.g(); g != nil {
			st.PiecesHave, st.Left = g.progress()
		}
	}
	return st
}

// publish stores a fresh snapshot (session goroutine only).
func (srv *server) publish(ph Phase) {
	down, up := srv.s.transferred()
	st := &Stats{
		Phase:        ph,
		Downloaded:   down,
		Uploaded:     up,
		DownloadRate: srv.rates.down,
		UploadRate:   srv.rates.up,
		Peers:        len(srv.peers),
		Elapsed:      time.Since(srv.start),
	}
	if g := srv.g; g != nil {
		st.PiecesTotal, st.Length = g.numPieces, g.total
		st.PiecesHave, st.Left = g.progress()
	}
	if srv.fetch != nil {
		st.MetadataHave, st.MetadataPieces = srv.fetch.Progress()
	}
	st.PiecesChecked = srv.checkedN
	st.WebSeedDownloaded, st.WebSeedRate, st.WebSeeds = srv.s.web.bytes(), srv.web.rates.down, srv.webSeedStats()
	st.PeerStats = make([]PeerStats, 0, len(srv.peers))
	for p, id := range srv.peers {
		ps := PeerStats{
			Addr:       p.addr,
			Client:     srv.clients[p],
			Outgoing:   p.outgoing,
			Fast:       p.fast,
			Encrypted:  p.mc != nil && p.mc.Encrypted(),
			Transport:  p.transport,
			Choking:    p.isChoking(),
			Downloaded: p.downloaded.Load(),
			Uploaded:   p.uploaded.Load(),
			Queued:     p.queuedUploads(),
		}
		if srv.core == nil {
			st.PeerStats = append(st.PeerStats, ps)
			continue
		}
		if cs, ok := srv.core.PeerStats(id); ok {
			ps.Interested, ps.PeerChoking, ps.PeerInterested = cs.AmInterested, cs.PeerChoking, cs.PeerInterested
			ps.Optimistic, ps.Snubbed, ps.Pieces, ps.Outstanding = cs.Optimistic, cs.Snubbed, cs.Pieces, cs.Outstanding
			ps.DownloadRate, ps.UploadRate = cs.DownloadRate, cs.UploadRate
		}
		st.PeerStats = append(st.PeerStats, ps)
	}
	slices.SortFunc(st.PeerStats, func(a, b PeerStats) int { return a.Addr.Compare(b.Addr) })
	srv.s.stats.Store(st)
}

// progress returns the verified pieces and the bytes of wanted pieces
// still missing: live, from any goroutine.
func (g *geometry) progress() (have int, left int64) {
	return g.have.Count(), g.left.Load()
}

// rateMeter turns byte totals sampled once a second into rates over a
// sliding window.
type rateMeter struct {
	at         [rateWindow]time.Time
	down, up   float64
	dTot, uTot [rateWindow]int64
	n          int
}

const rateWindow = 5

func (r *rateMeter) update(now time.Time, down, up int64) {
	i := r.n % rateWindow
	r.at[i], r.dTot[i], r.uTot[i] = now, down, up
	r.n++
	if r.n < 2 {
		return
	}
	oldest := r.n % rateWindow
	if r.n < rateWindow {
		oldest = 0
	}
	dt := now.Sub(r.at[oldest]).Seconds()
	if dt <= 0 {
		return
	}
	r.down = float64(down-r.dTot[oldest]) / dt
	r.up = float64(up-r.uTot[oldest]) / dt
}

package core

// Stats is a snapshot of the torrent's progress.
type Stats struct {
	Pieces     int   // piece count
	Have       int   // verified pieces
	Wanted     int   // wanted pieces
	Left       int64 // bytes of wanted pieces not verified yet
	InFlight   int   // pieces with requests outstanding or awaiting verification
	Downloaded int64 // accepted block payload bytes
	Uploaded   int64 // payload bytes reported with Uploaded
	Wasted     int64 // duplicate, late and failed-verification bytes
	HashFails  int   // pieces that failed verification
	// DownloadRate and UploadRate are in bytes per second, as of the last
	// Tick.
	DownloadRate, UploadRate float64
	Peers                    int  // connected peers (dropped ones excluded)
	Endgame                  bool // duplicate requests are being made
	Complete                 bool // every wanted piece verified
	// Readers is the count of registered readers (SetReader); Deadlines
	// the pieces in their windows not verified yet.
	Readers, Deadlines int
	// Duplicated counts blocks of deadline pieces requested from a second
	// peer (urgent or late); Preempted, requests cancelled by seeks.
	Duplicated, Preempted int64
}

// Stats returns a snapshot of the torrent's progress.
func (t *Torrent) Stats() Stats {
	return Stats{
		Pieces:       t.n,
		Have:         t.haveCount,
		Wanted:       t.wantCount,
		Left:         t.left,
		InFlight:     len(t.recs) - len(t.freeRecs),
		Downloaded:   t.downloaded,
		Uploaded:     t.uploaded,
		Wasted:       t.wasted,
		HashFails:    t.hashFails,
		DownloadRate: t.down.bps,
		UploadRate:   t.up.bps,
		Peers:        len(t.live),
		Endgame:      t.endgame,
		Complete:     t.Complete(),
		Readers:      len(t.readers),
		Deadlines:    t.pendingDeadlines(),
		Duplicated:   t.duplicated,
		Preempted:    t.preempted,
	}
}

func (t *Torrent) pendingDeadlines() int {
	n := 0
	for _, e := range t.dq[t.dqStart:] {
		if !t.have.has(e.piece) {
			n++
		}
	}
	return n
}

// PeerStats is a snapshot of one peer's state.
type PeerStats struct {
	ID             PeerID
	Pieces         int  // pieces the peer has
	Interesting    int  // pieces it has that we need
	AmInterested   bool // we are interested in it
	AmChoking      bool // we choke it
	PeerInterested bool // it is interested in us
	PeerChoking    bool // it chokes us
	Optimistic     bool // it holds the optimistic unchoke
	Snubbed        bool // it left our requests unanswered for SnubTimeout
	Fast           bool // BEP 6 negotiated
	Outstanding    int  // our requests in flight to it
	Target         int  // its pipeline length
	Strikes        int  // failed pieces it contributed to
	// DownloadRate and UploadRate are in bytes per second (from it and to
	// it), as of the last Tick.
	DownloadRate, UploadRate float64
	Downloaded, Uploaded     int64
}

// PeerStats returns a snapshot of a connected peer; ok is false for an
// unknown, dropped or gone PeerID.
func (t *Torrent) PeerStats(id PeerID) (ps PeerStats, ok bool) {
	p := t.lookup(id)
	if p == nil {
		return PeerStats{}, false
	}
	return PeerStats{
		ID: p.id, Pieces: p.npieces, Interesting: p.interesting,
		AmInterested: p.amInterested, AmChoking: p.amChoking,
		PeerInterested: p.peerInterested, PeerChoking: p.peerChoking,
		Optimistic: p.optimistic, Snubbed: p.snubbed, Fast: p.fast,
		Outstanding: p.outstanding(), Target: p.target, Strikes: p.strikes,
		DownloadRate: p.down.bps, UploadRate: p.up.bps,
		Downloaded: p.downloaded, Uploaded: p.uploaded,
	}, true
}

// AppendPeers appends the handles of connected peers (dropped ones
// excluded) to dst.
func (t *Torrent) AppendPeers(dst []PeerID) []PeerID {
	for _, p := range t.live {
		dst = append(dst, p.id)
	}
	return dst
}

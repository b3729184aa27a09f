package client

import (
	"time"

	"github.com/effusion-bt/effusion/session"
	bolt "go.etcd.io/bbolt"
)

// checkpointLoop records the durable state of the torrents that verified
// pieces since their last record: every CheckpointInterval, or sooner for
// one that verified CheckpointBytes since. Their files are synced first
// (session.Checkpoint), then one store transaction covers all of them. The
// loop polls at most once a second; an idle torrent costs an atomic load
// and a comparison, nothing more (10,000 of them: about a millisecond).
func (c *Client) checkpointLoop() {
	defer close(c.loopDone)
	poll := min(c.cfg.CheckpointInterval, time.Second)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-c.stopLoop:
			return
		case <-tick.C:
		}
		due := time.Since(last) >= c.cfg.CheckpointInterval-poll/2
		if due {
			last = time.Now()
		}
		c.mu.Lock()
		ts := make([]*Torrent, 0, len(c.torrents))
		for _, t := range c.torrents {
			if due || t.unrecordedBytes() >= c.cfg.CheckpointBytes {
				ts = append(ts, t)
			}
		}
		c.mu.Unlock()
		if len(ts) == 0 {
			continue
		}
		if err := c.saveAll(ts, false); err != nil {
			c.log.Error("writing the resume store", "err", err)
		}
	}
}

// unrecordedBytes is about how much the torrent verified since its last
// record.
func (t *Torrent) unrecordedBytes() int64 {
	t.mu.Lock()
	s, recorded, mi := t.sess, t.recorded, t.mi
	t.mu.Unlock()
	if s == nil || mi == nil {
		return 0
	}
	return int64(s.Stats().PiecesHave-recorded) * mi.Info.PieceLength
}

// pending is one torrent's record to write.
type pending struct {
	t      *Torrent
	meta   meta
	resume *resumeRec
}

// saveAll writes the records of ts that changed (all of them with final,
// after their sessions stopped) in one transaction. Checkpoints (file
// syncs) run before the transaction, outside any torrent's lock.
func (c *Client) saveAll(ts []*Torrent, final bool) error {
	var out []pending
	for _, t := range ts {
		if p, ok := t.checkpoint(final); ok {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil
	}
	err := c.store.update(func(tx *bolt.Tx) error {
		for _, p := range out {
			if err := putRecord(tx, p.t.infoHash, nil, &p.meta, p.resume); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range out {
		if p.resume != nil {
			p.t.mu.Lock()
			p.t.recorded = countBits(p.resume.Have)
			p.t.mu.Unlock()
		}
	}
	return nil
}

// checkpoint returns the torrent's record to write, if it changed (or
// final): a durable checkpoint of its data when it verified pieces since
// the last record, its totals and completion time.
func (t *Torrent) checkpoint(final bool) (pending, bool) {
	t.mu.Lock()
	s, recorded := t.sess, t.recorded
	t.mu.Unlock()
	var cp session.Checkpoint
	haveCP := false
	if s != nil {
		st := s.Stats()
		if st.PiecesHave != recorded || final {
			if got, err := s.Checkpoint(); err == nil {
				cp, haveCP = got, true
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed && !final {
		return pending{}, false
	}
	if haveCP {
		t.keep(cp)
	}
	m := t.meta
	if s != nil {
		ss := s.Stats()
		m.Uploaded, m.Downloaded = t.base[0]+ss.Uploaded, t.base[1]+ss.Downloaded
		m.WebBytes = t.base[2] + ss.WebSeedDownloaded
		if ss.Phase == session.Seeding && m.CompleteUnix == 0 {
			m.CompleteUnix = time.Now().Unix()
		}
	}
	changed := haveCP || final || m.Uploaded != t.meta.Uploaded || m.Downloaded != t.meta.Downloaded ||
		m.CompleteUnix != t.meta.CompleteUnix
	t.meta.Uploaded, t.meta.Downloaded, t.meta.CompleteUnix = m.Uploaded, m.Downloaded, m.CompleteUnix
	t.meta.WebBytes = m.WebBytes
	if !changed {
		return pending{}, false
	}
	p := pending{t: t, meta: m}
	if t.resume != nil && (haveCP || final) && t.lastFiles != nil {
		p.resume = &resumeRec{Have: t.resume.Have.Bytes(), Files: t.lastFiles}
	}
	return p, true
}

// saveLocked writes the torrent's meta (and, with resume, its durable
// state) now; t.mu is held. Errors are logged: the periodic checkpoint
// writes it again.
func (c *Client) saveLocked(t *Torrent, resume bool) {
	var r *resumeRec
	if resume && t.resume != nil && t.lastFiles != nil {
		r = &resumeRec{Have: t.resume.Have.Bytes(), Files: t.lastFiles}
	}
	m := t.meta
	if err := c.store.update(func(tx *bolt.Tx) error { return putRecord(tx, t.infoHash, nil, &m, r) }); err != nil {
		c.log.Error("writing the resume store", "torrent", t.Name(), "err", err)
	}
}

func countBits(b []byte) int {
	n := 0
	for _, x := range b {
		for ; x != 0; x &= x - 1 {
			n++
		}
	}
	return n
}

package client

import (
	"context"

	"github.com/effusion-bt/effusion/session"
)

// Verify checks every piece of the torrent's data on disk again, whatever
// the resume store vouched for (Transmission's torrent-verify): a running
// torrent is stopped (trackers told, peers closed) and started again with
// a full check; a paused or failed one is checked and then stopped again,
// keeping its state. It returns once the check is over, with the check's
// or the start's error, ErrClosed, session.ErrNoMetadata for a magnet whose
// metadata has not arrived, or ctx.Err(). Pause, Resume and Remove wait
// for it.
func (t *Torrent) Verify(ctx context.Context) error {
	t.op.Lock()
	defer t.op.Unlock()
	t.mu.Lock()
	closed, running := t.closed, t.sess != nil
	t.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if t.MetaInfo() == nil {
		return session.ErrNoMetadata // nothing to check before a magnet's metadata
	}
	if err := t.stop(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	t.mu.Lock()
	t.resume, t.lastFiles = nil, nil // nothing is trusted: all is read
	t.mu.Unlock()
	if err := t.start(ctx); err != nil {
		return err
	}
	t.mu.Lock()
	s := t.sess
	t.mu.Unlock()
	_, _, err := s.Checked(ctx)
	if !running {
		if serr := t.stop(ctx); err == nil {
			err = serr
		}
	}
	t.mu.Lock()
	t.c.saveLocked(t, true)
	t.mu.Unlock()
	return err
}

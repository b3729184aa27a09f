package session

import (
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// writeLoop sends queued messages and serves queued requests, batching
// small messages into one write and blocks into one writev.
func (p *Peer) writeLoop() {
	defer p.wg.Done()
	for range p.wake {
		for {
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				return
			}
			out := p.out
			p.out = p.spare[:0]
			n := min(len(p.ups), uploadBatch)
			p.batch = append(p.batch[:0], p.ups[:n]...)
			p.ups = p.ups[:copy(p.ups, p.ups[n:])]
			p.mu.Unlock()
			if len(out) == 0 && n == 0 {
				p.spare = out
				break
			}
			if p.zcLater && n > 0 && p.f.g() != nil {
				p.zcLater = false
				p.setupZeroCopy()
			}
			var err error
			if p.zc != nil {
				err = p.writeBatchZeroCopy(out, p.batch)
			} else {
				err = p.writeBatch(out, p.batch)
			}
			p.mu.Lock()
			p.spare = out[:0]
			p.mu.Unlock()
			if err != nil {
				p.close(err)
				return
			}
		}
	}
}

// writeBatch sends out followed by the blocks of reqs in one vectored write.
func (p *Peer) writeBatch(out []byte, reqs []upReq) error {
	if cap(p.hdrs) < uploadBatch*17 {
		// Sized once so that slices of it stay valid while we append.
		p.hdrs = make([]byte, 0, uploadBatch*17)
	}
	p.vec = append(p.vec[:0], out)
	p.hdrs = p.hdrs[:0]
	var payload int
	g := p.f.g()
	for i, u := range reqs {
		h := len(p.hdrs)
		if g == nil || !g.have.Has(int(u.index)) {
			continue // never serve what we do not have (cannot happen: checked on enqueue)
		}
		if p.rbufs[i] == nil {
			p.rbufs[i] = new([peerwire.BlockSize]byte)
		}
		buf := p.rbufs[i][:u.length]
		if err := g.store.ReadBlock(int(u.index), int64(u.begin), buf); err != nil {
			if p.hdrs = p.unreadable(p.hdrs, u, err); len(p.hdrs) > h {
				p.vec = append(p.vec, p.hdrs[h:])
			}
			continue
		}
		if err := p.waitUpload(int(u.length)); err != nil {
			return err
		}
		p.hdrs = peerwire.AppendPieceHeader(p.hdrs, u.index, u.begin, int(u.length))
		p.vec = append(p.vec, p.hdrs[h:], buf)
		payload += int(u.length)
	}
	// Counted before the write so that a peer who got the block never sees
	// a stale count; after a failed write the connection is gone anyway.
	p.uploaded.Add(int64(payload))
	p.bufs = p.vec
	var err error
	if p.mc != nil {
		_, err = p.mc.WriteBuffers(&p.bufs) // encrypts, gathering into few writes
	} else {
		_, err = p.bufs.WriteTo(p.conn)
	}
	p.bufs = nil
	clear(p.vec)
	if err != nil {
		return err
	}
	p.lastSend.Store(time.Now().UnixNano())
	return nil
}

// unreadable logs a requested block we could not read and appends its
// REJECT to dst when the fast extension lets us say so.
func (p *Peer) unreadable(dst []byte, u upReq, err error) []byte {
	p.f.log.Warn("reading a block to upload", "piece", u.index, "err", err)
	if p.fast {
		dst = peerwire.AppendReject(dst, u.index, u.begin, u.length)
	}
	return dst
}

// waitUpload waits for the upload rate limits (the session's and the
// environment's) to allow n more bytes.
func (p *Peer) waitUpload(n int) error {
	if err := p.f.up.wait(p.ctx, n); err != nil {
		return err
	}
	return p.f.env.up.wait(p.ctx, n)
}

// uploadLimited reports whether an upload rate limit applies.
func (p *Peer) uploadLimited() bool { return p.f.up.limited() || p.f.env.up.limited() }

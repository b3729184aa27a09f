package session

import (
	"errors"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

const (
	// maxExtHandshake caps an extension handshake's payload: the
	// dictionary of every mainstream client fits in a few hundred bytes,
	// and a larger one is an attack on our parser and memory.
	maxExtHandshake = peerwire.MaxExtendedHandshake
	// maxStrayExtended: extended messages for ids we never advertised are
	// skipped unread; an honest peer sends none (BEP 10 has it use our
	// ids), so after this many the peer is dropped.
	maxStrayExtended = 64
)

// readLoop decodes frames until the connection fails. Wire bounds are
// checked here (by the codec and peerwire.CheckBlock); the protocol's rules
// are the core's. Requests and cancels are served here, off the session
// loop; pieces become blocks; extended messages are parsed here (only the
// ones we use, into a bounded buffer) and everything else goes to the
// session as one event each, at most maxQueuedEvents waiting at a time.
func (p *Peer) readLoop(r *peerwire.Reader) error {
	sawExtHandshake := false
	stray := 0
	for {
		m, err := r.ReadMessage()
		if err != nil {
			var pe *peerwire.ProtocolError
			if errors.As(err, &pe) {
				return p.violation("bad frame", err)
			}
			return err
		}
		p.lastRecv.Store(time.Now().UnixNano())
		var ev event
		switch m.ID {
		case peerwire.MsgKeepAlive:
			continue
		case peerwire.MsgPort:
			p.onPort(m.Port)
			continue
		case peerwire.MsgPiece:
			if err := p.readBlock(r, m); err != nil {
				return err
			}
			continue
		case peerwire.MsgRequest:
			if err := peerwire.CheckBlock(m, p.f.pieceSize(int(m.Index))); err != nil {
				return p.violation("request outside its piece", err)
			}
			p.enqueueUpload(m)
			continue
		case peerwire.MsgCancel:
			p.cancelUpload(m)
			continue
		case peerwire.MsgReject:
			if err := peerwire.CheckBlock(m, p.f.pieceSize(int(m.Index))); err != nil {
				return p.violation("reject outside its piece", err)
			}
		case peerwire.MsgExtended:
			if !p.ext || m.ExtID != 0 {
				// Not negotiated, or an extension we did not advertise:
				// skipped without reading it into memory.
				if stray++; stray > maxStrayExtended {
					return p.violation("extended messages for extensions we did not advertise", nil)
				}
				if err := r.DiscardPayload(); err != nil {
					return err
				}
				continue
			}
			if sawExtHandshake {
				return p.violation("second extension handshake", nil)
			}
			sawExtHandshake = true
			if m.Length > maxExtHandshake {
				return p.violation("extension handshake too large", nil)
			}
			extBuf := make([]byte, m.Length) // once per connection
			if m.Length > 0 {
				if err := r.ReadPayload(extBuf); err != nil {
					return err
				}
			}
			h, err := peerwire.ParseExtendedHandshake(extBuf)
			if err != nil {
				return p.violation("malformed extension handshake", err)
			}
			ev = evExtHandshake{p, h}
		default:
			if !m.ID.Known() {
				continue // a later extension: skipped by the codec
			}
		}
		if ev == nil {
			ev = evPeerMsg{p, m}
		}
		select {
		case p.credits <- struct{}{}:
		case <-p.ctx.Done():
			return ErrClosed
		}
		p.sink.post(ev)
	}
}

// readBlock reads a piece message's payload into a pooled block and hands
// it to the session.
func (p *Peer) readBlock(r *peerwire.Reader, m peerwire.Message) error {
	if m.Length > peerwire.BlockSize {
		return p.violation("piece block larger than we ever request", nil)
	}
	if err := peerwire.CheckBlock(m, p.f.pieceSize(int(m.Index))); err != nil {
		return p.violation("piece outside its bounds", err)
	}
	if err := p.f.down.wait(p.ctx, int(m.Length)); err != nil {
		return err
	}
	if err := p.f.env.down.wait(p.ctx, int(m.Length)); err != nil {
		return err
	}
	b := p.f.env.blocks.get(&p.f.held)
	b.n = m.Length
	if err := r.ReadPayload(b.data[:m.Length]); err != nil {
		p.f.env.blocks.put(b)
		return err
	}
	b.p, b.index, b.begin = p, m.Index, m.Begin
	p.downloaded.Add(int64(m.Length))
	p.sink.post(b)
	return nil
}

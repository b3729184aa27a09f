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

// The extended message ids we advertise (the "m" of our handshake):
// peers send us these extensions' messages under them.
const (
	extPex      = 1 // ut_pex (BEP 11)
	extMetadata = 2 // ut_metadata (BEP 9)
)

// readLoop decodes frames until the connection fails. Wire bounds are
// checked here (by the codec and peerwire.CheckBlock); the protocol's rules
// are the core's. Requests and cancels are served here, off the session
// loop; pieces become blocks; extended messages are parsed here (only the
// ones we use, into bounded buffers) and everything else goes to the
// session as one event each, at most maxQueuedEvents waiting at a time.
// Before the metadata is known (a magnet) there is no geometry: nothing is
// requested from the peer, and requests to us are refused.
func (p *Peer) readLoop(r *peerwire.Reader) error {
	sawExtHandshake := false
	stray := 0
	g := p.f.g()
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
		if g == nil {
			if g = p.f.g(); g != nil {
				r.SetNumPieces(g.numPieces) // the metadata arrived
			}
		}
		var ev event
		switch m.ID {
		case peerwire.MsgKeepAlive:
			continue
		case peerwire.MsgPort:
			ev = evPort{p, m.Port}
		case peerwire.MsgPiece:
			if g == nil {
				return p.violation("block before we asked for anything", nil)
			}
			if err := p.readBlock(r, m, g); err != nil {
				return err
			}
			continue
		case peerwire.MsgRequest:
			if g != nil {
				if err := peerwire.CheckBlock(m, g.pieceSize(int(m.Index))); err != nil {
					return p.violation("request outside its piece", err)
				}
			}
			p.enqueueUpload(m, g)
			continue
		case peerwire.MsgCancel:
			p.cancelUpload(m)
			continue
		case peerwire.MsgReject:
			if g == nil {
				return p.violation("reject before we asked for anything", nil)
			}
			if err := peerwire.CheckBlock(m, g.pieceSize(int(m.Index))); err != nil {
				return p.violation("reject outside its piece", err)
			}
		case peerwire.MsgExtended:
			switch {
			case p.ext && m.ExtID == 0:
				if sawExtHandshake {
					return p.violation("second extension handshake", nil)
				}
				sawExtHandshake = true
				if m.Length > maxExtHandshake {
					return p.violation("extension handshake too large", nil)
				}
				buf := make([]byte, m.Length) // once per connection
				if err := p.readExt(r, buf); err != nil {
					return err
				}
				h, err := peerwire.ParseExtendedHandshake(buf)
				if err != nil {
					return p.violation("malformed extension handshake", err)
				}
				ev = evExtHandshake{p, h}
			case p.ext && m.ExtID == extMetadata && p.f.metadataOn.Load():
				if ev, err = p.readMetadataMsg(r, m); err != nil {
					return err
				}
			case p.ext && m.ExtID == extPex && p.f.pexOn.Load():
				if ev, err = p.readPex(r, m); err != nil {
					return err
				}
			default:
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

// readExt reads an extended message's payload into buf (its length).
func (p *Peer) readExt(r *peerwire.Reader, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	return r.ReadPayload(buf)
}

// readMetadataMsg reads and parses a ut_metadata message (BEP 9); a data
// message's piece is copied out of the reader's buffer.
func (p *Peer) readMetadataMsg(r *peerwire.Reader, m peerwire.Message) (event, error) {
	if m.Length > peerwire.MaxMetadataMsgLen {
		return nil, p.violation("ut_metadata message too large", nil)
	}
	if cap(p.extBuf) < peerwire.MaxMetadataMsgLen {
		p.extBuf = make([]byte, 0, peerwire.MaxMetadataMsgLen)
	}
	buf := p.extBuf[:m.Length]
	if err := p.readExt(r, buf); err != nil {
		return nil, err
	}
	mm, err := peerwire.ParseMetadataMsg(buf)
	if err != nil {
		return nil, p.violation("malformed ut_metadata message", err)
	}
	if mm.Data != nil {
		mm.Data = append([]byte(nil), mm.Data...)
	}
	return evMetadataMsg{p, mm}, nil
}

// readPex reads and parses a ut_pex message (BEP 11).
func (p *Peer) readPex(r *peerwire.Reader, m peerwire.Message) (event, error) {
	if m.Length > peerwire.MaxPexLen {
		return nil, p.violation("ut_pex message too large", nil)
	}
	buf := make([]byte, m.Length) // at most one a minute from an honest peer
	if err := p.readExt(r, buf); err != nil {
		return nil, err
	}
	px := new(peerwire.Pex)
	if err := peerwire.ParsePex(buf, px); err != nil {
		return nil, p.violation("malformed ut_pex message", err)
	}
	return evPex{p, px}, nil
}

// readBlock reads a piece message's payload into a pooled block and hands
// it to the session.
func (p *Peer) readBlock(r *peerwire.Reader, m peerwire.Message, g *geometry) error {
	if m.Length > peerwire.BlockSize {
		return p.violation("piece block larger than we ever request", nil)
	}
	if err := peerwire.CheckBlock(m, g.pieceSize(int(m.Index))); err != nil {
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

package peerwire

import (
	"io"
)

// Handshake sizes (BEP 3).
const (
	// ProtocolName is the protocol string of the handshake.
	ProtocolName = "BitTorrent protocol"
	// HandshakeLen is the length of a whole handshake.
	HandshakeLen = 1 + len(ProtocolName) + 8 + 20 + 20
	// HandshakeHeaderLen is the length of the handshake up to and including
	// the info-hash: enough for a listener to route the connection before
	// the peer id arrives (some peers wait for our info-hash first).
	HandshakeHeaderLen = 1 + len(ProtocolName) + 8 + 20
)

// Handshake is the first message each side sends.
type Handshake struct {
	Reserved [8]byte  // feature bits; see the Supports and Set methods
	InfoHash [20]byte // the torrent
	PeerID   [20]byte // the sender
}

// SupportsExtended reports the BEP 10 extension protocol bit (reserved[5] & 0x10).
func (h Handshake) SupportsExtended() bool { return h.Reserved[5]&0x10 != 0 }

// SupportsFast reports the BEP 6 fast extension bit (reserved[7] & 0x04).
func (h Handshake) SupportsFast() bool { return h.Reserved[7]&0x04 != 0 }

// SupportsDHT reports the BEP 5 DHT bit (reserved[7] & 0x01).
func (h Handshake) SupportsDHT() bool { return h.Reserved[7]&0x01 != 0 }

// SetExtended sets the BEP 10 extension protocol bit.
func (h *Handshake) SetExtended() { h.Reserved[5] |= 0x10 }

// SetFast sets the BEP 6 fast extension bit.
func (h *Handshake) SetFast() { h.Reserved[7] |= 0x04 }

// SetDHT sets the BEP 5 DHT bit.
func (h *Handshake) SetDHT() { h.Reserved[7] |= 0x01 }

// AppendHandshake appends the 68-byte encoding of h to dst.
func AppendHandshake(dst []byte, h Handshake) []byte {
	dst = append(dst, byte(len(ProtocolName)))
	dst = append(dst, ProtocolName...)
	dst = append(dst, h.Reserved[:]...)
	dst = append(dst, h.InfoHash[:]...)
	return append(dst, h.PeerID[:]...)
}

// WriteHandshake writes h in a single Write call.
func WriteHandshake(w io.Writer, h Handshake) error {
	var buf [HandshakeLen]byte
	_, err := w.Write(AppendHandshake(buf[:0], h))
	return err
}

// ReadHandshake reads exactly HandshakeLen bytes from r (never more, so r
// may be the raw connection) and parses them. A stream that ends early
// yields io.EOF or io.ErrUnexpectedEOF; a foreign protocol yields a
// [*ProtocolError] wrapping [ErrBadHandshake].
func ReadHandshake(r io.Reader) (Handshake, error) {
	h, err := ReadHandshakeHeader(r)
	if err != nil {
		return h, err
	}
	err = ReadHandshakePeerID(r, &h)
	return h, err
}

// ReadHandshakeHeader reads the first HandshakeHeaderLen bytes (protocol
// string, reserved bits, info-hash) so that a listener can look up the
// torrent, and answer with its own handshake, before the peer id arrives.
// The returned PeerID is zero; finish with [ReadHandshakePeerID].
func ReadHandshakeHeader(r io.Reader) (Handshake, error) {
	var buf [HandshakeHeaderLen]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return Handshake{}, err
	}
	return parseHandshakeHeader(buf[:])
}

// ReadHandshakePeerID reads the 20-byte peer id that ends a handshake into h.
func ReadHandshakePeerID(r io.Reader, h *Handshake) error {
	_, err := io.ReadFull(r, h.PeerID[:])
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// ParseHandshake parses a complete handshake held in b, which must be
// exactly HandshakeLen bytes long.
func ParseHandshake(b []byte) (Handshake, error) {
	if len(b) != HandshakeLen {
		return Handshake{}, &ProtocolError{Msg: "handshake", Field: "length", Value: int64(len(b)), Limit: int64(HandshakeLen), Err: ErrBadHandshake}
	}
	h, err := parseHandshakeHeader(b[:HandshakeHeaderLen])
	if err != nil {
		return h, err
	}
	copy(h.PeerID[:], b[HandshakeHeaderLen:])
	return h, nil
}

func parseHandshakeHeader(b []byte) (Handshake, error) {
	var h Handshake
	if b[0] != byte(len(ProtocolName)) {
		return h, &ProtocolError{Msg: "handshake", Field: "pstrlen", Value: int64(b[0]), Limit: int64(len(ProtocolName)), Err: ErrBadHandshake}
	}
	if string(b[1:20]) != ProtocolName {
		return h, &ProtocolError{Msg: "handshake", Field: "protocol string", Err: ErrBadHandshake}
	}
	copy(h.Reserved[:], b[20:28])
	copy(h.InfoHash[:], b[28:48])
	return h, nil
}

package utp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Packet types (BEP 29): the high nibble of a packet's first byte.
const (
	stData  = 0 // payload, consumes a sequence number
	stFin   = 1 // end of the sender's stream, consumes a sequence number
	stState = 2 // an acknowledgement only
	stReset = 3 // the connection is gone
	stSyn   = 4 // connection request, consumes a sequence number
)

// version is the only uTP version (the low nibble of the first byte).
const version = 1

// headerLen is the fixed header: type/version, first extension, connection
// id, timestamp, timestamp difference, window, sequence and ack numbers.
const headerLen = 20

// Extension types. extSack is BEP 29's selective ACK. extBits is libutp's
// "extension bits" (8 bytes, which libutp and libtorrent accept and
// ignore): this package sets largeBit in them, in the SYN and in the answer
// to it, to say that it reads datagrams up to maxDatagram bytes whole; only
// between two Sockets of this package are packets then larger than usual.
// A new extension type cannot carry that: libutp takes a packet whose first
// extension type is 3 or more for its pre-BEP-29 format and mangles it.
const (
	extSack  = 1
	extBits  = 2
	largeBit = 0x01 // in the last byte of extBits
)

// maxSackBytes bounds the SACK bitmask we send (256 packets past ack_nr+1).
const maxSackBytes = 32

// ErrPacket is wrapped by every packet parse error.
var ErrPacket = errors.New("utp: malformed packet")

// header is a parsed packet header. Decoding never allocates.
type header struct {
	typ    uint8
	connID uint16
	ts     uint32 // sender's clock, microseconds
	tsDiff uint32 // sender's clock minus our timestamp of the last packet it received
	wnd    uint32 // bytes the sender can still receive
	seq    uint16
	ack    uint16
}

// packet is a parsed datagram: slices alias the datagram.
type packet struct {
	header
	sack     []byte // selective ACK bitmask (nil when absent)
	large    uint32 // the datagram size the sender reads whole (largeBit), 0 when absent
	payload  []byte
	extCount int
}

// isUTP tells uTP datagrams from the others sharing the socket (a DHT's
// KRPC messages start with 'd'): the first byte must be type<<4|version.
func isUTP(b []byte) bool {
	return len(b) >= headerLen && b[0]&0x0f == version && b[0]>>4 <= stSyn
}

// maxExtensions bounds the extension chain walked per packet.
const maxExtensions = 16

// parsePacket decodes b into p. Errors wrap ErrPacket and name the field.
func parsePacket(b []byte, p *packet) error {
	if len(b) < headerLen {
		return fmt.Errorf("%w: %d bytes, header needs %d", ErrPacket, len(b), headerLen)
	}
	if v := b[0] & 0x0f; v != version {
		return fmt.Errorf("%w: version %d", ErrPacket, v)
	}
	p.typ = b[0] >> 4
	if p.typ > stSyn {
		return fmt.Errorf("%w: type %d", ErrPacket, p.typ)
	}
	p.connID = binary.BigEndian.Uint16(b[2:])
	p.ts = binary.BigEndian.Uint32(b[4:])
	p.tsDiff = binary.BigEndian.Uint32(b[8:])
	p.wnd = binary.BigEndian.Uint32(b[12:])
	p.seq = binary.BigEndian.Uint16(b[16:])
	p.ack = binary.BigEndian.Uint16(b[18:])
	p.sack = nil
	p.large = 0
	p.extCount = 0
	next := b[1]
	off := headerLen
	for next != 0 {
		if p.extCount == maxExtensions {
			return fmt.Errorf("%w: more than %d extensions", ErrPacket, maxExtensions)
		}
		p.extCount++
		if off+2 > len(b) {
			return fmt.Errorf("%w: extension %d header at %d past end", ErrPacket, next, off)
		}
		typ := next
		next = b[off]
		l := int(b[off+1])
		off += 2
		if off+l > len(b) {
			return fmt.Errorf("%w: extension %d length %d past end", ErrPacket, typ, l)
		}
		body := b[off : off+l]
		switch typ {
		case extSack:
			if l == 0 || l%4 != 0 {
				return fmt.Errorf("%w: selective ack length %d", ErrPacket, l)
			}
			p.sack = body
		case extBits:
			if l == 8 && body[7]&largeBit != 0 {
				p.large = maxDatagram
			}
		}
		off += l
	}
	p.payload = b[off:]
	return nil
}

// putHeader encodes h into b (at least hdrSlot bytes) with the extensions
// given (the extension bits with largeBit when large is not 0, first as
// libutp wants, then the SACK) and returns the length written.
func putHeader(b []byte, h *header, sack []byte, large uint32) int {
	b[0] = h.typ<<4 | version
	b[1] = 0
	binary.BigEndian.PutUint16(b[2:], h.connID)
	binary.BigEndian.PutUint32(b[4:], h.ts)
	binary.BigEndian.PutUint32(b[8:], h.tsDiff)
	binary.BigEndian.PutUint32(b[12:], h.wnd)
	binary.BigEndian.PutUint16(b[16:], h.seq)
	binary.BigEndian.PutUint16(b[18:], h.ack)
	n := headerLen
	prev := 1 // where the previous "next extension" byte lives
	if large != 0 {
		b[prev] = extBits
		b[n] = 0
		b[n+1] = 8
		clear(b[n+2 : n+10])
		b[n+9] = largeBit
		prev = n
		n += 10
	}
	if len(sack) > 0 {
		b[prev] = extSack
		b[n] = 0
		b[n+1] = byte(len(sack))
		copy(b[n+2:], sack)
		n += 2 + len(sack)
	}
	return n
}

// seqLess reports a < b in wrapping 16-bit sequence space.
func seqLess(a, b uint16) bool { return int16(a-b) < 0 }

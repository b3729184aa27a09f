package utp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
)

// maxDatagram is the largest UDP payload we read or send (IPv4's limit).
const maxDatagram = 65507

// rxMsg is one received datagram in a read batch.
type rxMsg struct {
	buf  []byte // maxDatagram+1 bytes, owned by the batch
	n    int
	addr netip.AddrPort
}

// txMsg is one datagram to send: a header built for this transmission and
// the payload of a packet kept for retransmission (never copied).
type txMsg struct {
	hdr     []byte
	payload []byte
	addr    netip.AddrPort
}

// batchSize is the number of datagrams read or written per system call.
const batchSize = 32

// txBatch collects datagrams to send with one system call. A goroutine
// that sends owns one batch at a time (from batchPool or its own).
type txBatch struct {
	msgs    []txMsg
	hdrs    []byte // batchSize header slots of hdrSlot bytes
	scratch []byte // the generic transport's concatenation buffer
	sys     txSys  // platform scratch (mmsghdrs, iovecs, sockaddrs)
}

// hdrSlot fits the header, a full SACK and the extension bits.
const hdrSlot = headerLen + 2 + maxSackBytes + 10

func newTxBatch() *txBatch {
	return &txBatch{msgs: make([]txMsg, 0, batchSize), hdrs: make([]byte, batchSize*hdrSlot)}
}

var batchPool = sync.Pool{New: func() any { return newTxBatch() }}

// slot returns the header buffer for the next message.
func (b *txBatch) slot() []byte {
	i := len(b.msgs)
	return b.hdrs[i*hdrSlot : (i+1)*hdrSlot]
}

func (b *txBatch) full() bool { return len(b.msgs) == batchSize }

// transport moves datagrams between the Socket and its net.PacketConn.
// readBatch is called by the reader goroutine only; writeBatch by any
// goroutine with its own batch.
type transport interface {
	readBatch(msgs []rxMsg) (int, error)
	writeBatch(b *txBatch) error
	routeMTU(addr netip.AddrPort) int // 0 when unknown
}

// genericIO works over any net.PacketConn, one datagram per call.
type genericIO struct {
	pc  net.PacketConn
	udp *net.UDPConn // non-nil when pc is one: address conversions without allocation
}

func (g *genericIO) readBatch(msgs []rxMsg) (int, error) {
	m := &msgs[0]
	if g.udp != nil {
		n, ap, err := g.udp.ReadFromUDPAddrPort(m.buf)
		if err != nil {
			return 0, err
		}
		m.n, m.addr = n, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		return 1, nil
	}
	n, a, err := g.pc.ReadFrom(m.buf)
	if err != nil {
		return 0, err
	}
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return 0, errNotUDP
	}
	ap := ua.AddrPort()
	m.n, m.addr = n, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	return 1, nil
}

var errNotUDP = errors.New("utp: PacketConn returned a non-UDP address")

func (g *genericIO) writeBatch(b *txBatch) error {
	if b.scratch == nil {
		b.scratch = make([]byte, maxDatagram+hdrSlot)
	}
	var first error
	for i := range b.msgs {
		m := &b.msgs[i]
		n := copy(b.scratch, m.hdr)
		n += copy(b.scratch[n:], m.payload)
		var err error
		if g.udp != nil {
			_, err = g.udp.WriteToUDPAddrPort(b.scratch[:n], m.addr)
		} else {
			_, err = g.pc.WriteTo(b.scratch[:n], net.UDPAddrFromAddrPort(m.addr))
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (g *genericIO) routeMTU(netip.AddrPort) int { return 0 }

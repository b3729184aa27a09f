package utp

import (
	"encoding/binary"

	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux moves datagrams with recvmmsg/sendmmsg on the socket's file
// descriptor through syscall.RawConn, so the Go poller still parks the
// reader. golang.org/x/net/ipv4's ReadBatch does the same system call but
// allocates a *net.UDPAddr per datagram; decoding the sockaddr straight
// into a netip.AddrPort keeps the receive path allocation-free.

const sockaddrLen = unix.SizeofSockaddrInet6 // room for either family

type txSys struct {
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
	sas  []byte
	rc   syscall.RawConn
	v6   bool
	// one system call's state, read by the bound callback
	off, n int
	err    error
	fn     func(fd uintptr) bool
}

type mmsgIO struct {
	generic genericIO // fallback for what mmsg cannot do
	rc      syscall.RawConn
	v6      bool // the socket is AF_INET6 (IPv4 peers are v4-mapped)

	// the reader goroutine's state
	rhdrs []unix.Mmsghdr
	riovs []unix.Iovec
	rsas  []byte
	rn    int
	rerr  error
	rfn   func(fd uintptr) bool
	rmsgs []rxMsg
}

func newTransport(pc net.PacketConn) transport {
	g := genericIO{pc: pc}
	udp, ok := pc.(*net.UDPConn)
	if !ok {
		return &g
	}
	g.udp = udp
	rc, err := udp.SyscallConn()
	if err != nil {
		return &g
	}
	m := &mmsgIO{generic: g, rc: rc}
	var family int
	rc.Control(func(fd uintptr) {
		if sa, err := unix.Getsockname(int(fd)); err == nil {
			if _, ok := sa.(*unix.SockaddrInet6); ok {
				family = unix.AF_INET6
			} else {
				family = unix.AF_INET
			}
		}
	})
	if family == 0 {
		return &g
	}
	m.v6 = family == unix.AF_INET6
	m.rhdrs = make([]unix.Mmsghdr, batchSize)
	m.riovs = make([]unix.Iovec, batchSize)
	m.rsas = make([]byte, batchSize*sockaddrLen)
	m.rfn = m.recv
	return m
}

func (m *mmsgIO) readBatch(msgs []rxMsg) (int, error) {
	n := min(len(msgs), batchSize)
	for i := 0; i < n; i++ {
		m.riovs[i].Base = &msgs[i].buf[0]
		m.riovs[i].SetLen(len(msgs[i].buf))
		h := &m.rhdrs[i].Hdr
		h.Name = &m.rsas[i*sockaddrLen]
		h.Namelen = sockaddrLen
		h.Iov = &m.riovs[i]
		h.SetIovlen(1)
		h.Control = nil
		h.SetControllen(0)
		h.Flags = 0
		m.rhdrs[i].Len = 0
	}
	m.rmsgs = msgs[:n]
	if err := m.rc.Read(m.rfn); err != nil {
		return 0, err
	}
	if m.rerr != nil {
		return 0, m.rerr
	}
	got := 0
	for i := 0; i < m.rn; i++ {
		h := &m.rhdrs[i]
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
			continue // larger than any packet we accept
		}
		ap, ok := decodeSockaddr(m.rsas[i*sockaddrLen : (i+1)*sockaddrLen])
		if !ok {
			continue
		}
		if got != i {
			msgs[got].buf, msgs[i].buf = msgs[i].buf, msgs[got].buf
		}
		msgs[got].n = int(h.Len)
		msgs[got].addr = ap
		got++
	}
	return got, nil
}

// recv is the RawConn.Read callback (bound once: no closure per call).
func (m *mmsgIO) recv(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.rhdrs[0])), uintptr(len(m.rmsgs)), 0, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	m.rn, m.rerr = int(r), nil
	if e != 0 {
		m.rn, m.rerr = 0, e
	}
	return true
}

func decodeSockaddr(b []byte) (netip.AddrPort, bool) {
	port := binary.BigEndian.Uint16(b[2:4])
	switch binary.NativeEndian.Uint16(b[0:2]) {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port), true
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])).Unmap(), port), true
	}
	return netip.AddrPort{}, false
}

// encodeSockaddr writes ap for a socket of the given family and returns the
// length, or 0 when the socket cannot reach that family.
func encodeSockaddr(b []byte, ap netip.AddrPort, v6 bool) int {
	a := ap.Addr()
	if !v6 {
		if !a.Is4() {
			return 0
		}
		binary.NativeEndian.PutUint16(b[0:2], unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:4], ap.Port())
		a4 := a.As4()
		copy(b[4:8], a4[:])
		clear(b[8:16])
		return unix.SizeofSockaddrInet4
	}
	binary.NativeEndian.PutUint16(b[0:2], unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:4], ap.Port())
	clear(b[4:8])
	a16 := a.As16() // v4-mapped for IPv4 peers
	copy(b[8:24], a16[:])
	clear(b[24:28]) // scope id
	return unix.SizeofSockaddrInet6
}

func (m *mmsgIO) writeBatch(b *txBatch) error {
	s := &b.sys
	if s.hdrs == nil {
		s.hdrs = make([]unix.Mmsghdr, batchSize)
		s.iovs = make([]unix.Iovec, 2*batchSize)
		s.sas = make([]byte, batchSize*sockaddrLen)
		s.fn = s.send
	}
	s.rc, s.v6 = m.rc, m.v6
	k := 0
	for i := range b.msgs {
		msg := &b.msgs[i]
		sa := s.sas[k*sockaddrLen : (k+1)*sockaddrLen]
		sl := encodeSockaddr(sa, msg.addr, m.v6)
		if sl == 0 {
			continue // unreachable family: dropped like a lost datagram
		}
		iov := s.iovs[2*k : 2*k+2]
		iov[0].Base = &msg.hdr[0]
		iov[0].SetLen(len(msg.hdr))
		niov := 1
		if len(msg.payload) > 0 {
			iov[1].Base = &msg.payload[0]
			iov[1].SetLen(len(msg.payload))
			niov = 2
		}
		h := &s.hdrs[k].Hdr
		h.Name = &sa[0]
		h.Namelen = uint32(sl)
		h.Iov = &iov[0]
		h.SetIovlen(niov)
		h.Control = nil
		h.SetControllen(0)
		h.Flags = 0
		k++
	}
	var first error
	s.off, s.n = 0, k
	for s.off < s.n {
		s.err = nil
		if err := m.rc.Write(s.fn); err != nil {
			return err
		}
		if s.err != nil {
			// The message at off failed alone (sendmmsg reports an error
			// only for its first message): drop it as the network would.
			if first == nil {
				first = s.err
			}
			s.off++
		}
	}
	// Drop references to payloads so pooled buffers are not kept alive.
	for i := 0; i < k; i++ {
		s.iovs[2*i].Base, s.iovs[2*i+1].Base = nil, nil
	}
	return first
}

// send is the RawConn.Write callback: it sends from off and advances it.
func (s *txSys) send(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.hdrs[s.off])), uintptr(s.n-s.off), 0, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	if e != 0 {
		s.err = e
		return true
	}
	s.off += int(r)
	return true
}

// routeMTU asks the kernel for the MTU of the route to addr: a connected
// UDP socket's IP_MTU (no packet is sent). 0 when unknown.
func (m *mmsgIO) routeMTU(addr netip.AddrPort) int {
	fam, level, opt := unix.AF_INET, unix.IPPROTO_IP, unix.IP_MTU
	var sa unix.Sockaddr
	if addr.Addr().Is4() && !m.v6 {
		sa = &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	} else if addr.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	} else {
		fam, level, opt = unix.AF_INET6, unix.IPPROTO_IPV6, unix.IPV6_MTU
		sa = &unix.SockaddrInet6{Port: int(addr.Port()), Addr: addr.Addr().As16()}
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sa); err != nil {
		return 0
	}
	mtu, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		return 0
	}
	return mtu
}

// growBuffers raises the socket's buffers to socketBuffer past the sysctl
// caps (SO_RCVBUFFORCE, SO_SNDBUFFORCE) when the process may (CAP_NET_ADMIN);
// otherwise it leaves them as they are.
func growBuffers(u *net.UDPConn) {
	rc, err := u.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		for _, o := range [][2]int{{unix.SO_RCVBUF, unix.SO_RCVBUFFORCE}, {unix.SO_SNDBUF, unix.SO_SNDBUFFORCE}} {
			// The kernel reports twice the size set (its bookkeeping).
			if got, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, o[0]); err == nil && got < 2*socketBuffer {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], socketBuffer)
			}
		}
	})
}

package utp

import "time"

// Config tunes a Socket. The zero value is the default for every field.
type Config struct {
	// RecvBuffer is each connection's receive window in bytes: what the
	// peer may send ahead of Read. Default 4 MiB (grown lazily).
	RecvBuffer int
	// SendBuffer bounds the bytes a connection holds queued or in flight;
	// Write blocks beyond it. It also caps the congestion window. Default 4 MiB.
	SendBuffer int
	// MaxPacketSize caps the UDP payload of a packet. By default packets
	// are 1400 bytes (or less when the route's MTU is smaller), and up to
	// the route's MTU (64 KiB on loopback) toward a peer that is a Socket of
	// this package and says it reads such datagrams.
	MaxPacketSize int
	// NoDelay sends a partial packet at once even while data is in flight;
	// by default small writes are held (Nagle) until an ACK arrives or a
	// packet fills.
	NoDelay bool
	// MaxHalfOpen bounds incoming connections whose initiator has not yet
	// answered our reply to its SYN (the SYN-flood bound). Default 64.
	MaxHalfOpen int
	// HalfOpenTimeout drops such a connection. Default 10 s.
	HalfOpenTimeout time.Duration
	// AcceptBacklog bounds established connections waiting for Accept;
	// beyond it new ones are reset. Default 128.
	AcceptBacklog int
	// MaxConns bounds all connections of the Socket. Default 8192.
	MaxConns int
	// KeepAlive is the idle time after which a connection sends a
	// keep-alive (an ACK), keeping NAT mappings open. Default 29 s.
	KeepAlive time.Duration
	// SynRetries is how many times a SYN is retransmitted before dialling
	// fails (timeouts 1, 2, 4, ... s). Default 3.
	SynRetries int
	// MaxRetransmits is how many consecutive timeouts without any packet
	// from the peer end a connection. Default 6 (about a minute).
	MaxRetransmits int
	// Linger bounds how long a closed connection that makes no progress
	// (nothing newly acked) keeps trying to deliver its queued data and FIN
	// before it resets. Default 30 s.
	Linger time.Duration
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.RecvBuffer, 4<<20)
	def(&c.SendBuffer, 4<<20)
	def(&c.MaxPacketSize, maxDatagram)
	c.MaxPacketSize = min(max(c.MaxPacketSize, minPacketSize), maxDatagram)
	c.RecvBuffer = max(c.RecvBuffer, 2*maxDatagram)
	c.SendBuffer = max(c.SendBuffer, 2*maxDatagram)
	def(&c.MaxHalfOpen, 64)
	defd(&c.HalfOpenTimeout, 10*time.Second)
	def(&c.AcceptBacklog, 128)
	def(&c.MaxConns, 8192)
	defd(&c.KeepAlive, 29*time.Second)
	def(&c.SynRetries, 3)
	def(&c.MaxRetransmits, 6)
	defd(&c.Linger, 30*time.Second)
	return c
}

// socketBuffer is the kernel buffer size asked for each direction: room for
// 64 large datagrams or about 3000 small ones.
const socketBuffer = 4 << 20

// Packet sizes (UDP payload, header included).
const (
	minPacketSize     = 150  // smallest configurable (tests)
	safePacketSize    = 1232 // IPv6's minimum MTU less IPv6 and UDP headers
	defaultPacketSize = 1400 // libutp's choice: fits common tunnels within 1500
)

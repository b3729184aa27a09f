// Package utp is uTP, the Micro Transport Protocol of BEP 29, in pure Go:
// reliable ordered byte streams over UDP whose LEDBAT congestion control
// yields to other traffic. Most BitTorrent peers (libtorrent, qBittorrent,
// Transmission, µTorrent) try uTP first.
//
// # Using it
//
// One Socket per UDP port carries every uTP connection of that port and any
// other UDP protocol sharing it, such as the DHT:
//
//	s, err := utp.Listen("udp", ":6881", utp.Config{})
//	// or utp.New(packetConn, utp.Config{}) over a socket you opened
//	defer s.Close()
//
//	// Incoming: s is a net.Listener; Accept returns net.Conn.
//	go func() {
//		for {
//			c, err := s.Accept()
//			if err != nil {
//				return // net.ErrClosed after s.Close
//			}
//			go serve(c)
//		}
//	}()
//
//	// Or through an acceptor pool, with a Listener view: its Close stops
//	// accepting (SYNs are then refused) without closing the Socket.
//	pool.AddListener(ctx, s.Listener(), 8)
//
//	// Outgoing:
//	c, err := s.DialContext(ctx, "203.0.113.5:51413")
//
//	// The DHT on the same port (github.com/anacrolix/dht/v2):
//	cfg := dht.NewDefaultServerConfig()
//	cfg.Conn = s.PacketConn() // closing it does not close the Socket
//
// A Conn is a net.Conn: Read, Write, Close and the deadline methods keep its
// contract (io.EOF after the peer's FIN, net.ErrClosed after Close,
// os.ErrDeadlineExceeded after a deadline; ErrReset, ErrRefused and
// ErrTimeout wrap ECONNRESET, ECONNREFUSED and ETIMEDOUT as TCP's errors do).
// Accept returns a connection once its initiator has answered our reply to
// its SYN, which proves its address: a Socket of this package answers at
// once, libutp and libtorrent with their first data (BitTorrent initiators
// send their handshake at once).
//
// # Packets
//
// Every packet has BEP 29's 20-byte header: type and version (1) in the
// first byte, the first extension's type, the connection id, a microsecond
// timestamp, the timestamp difference (the receiver's clock minus the
// timestamp of the last packet it received: one-way delay plus clock
// offset), the advertised receive window, seq_nr and ack_nr. Types: DATA
// and FIN consume a sequence number, as does SYN; STATE is an ACK; RESET
// ends a connection. Extensions form a chain of (next type, length, body):
// 1 is the selective ACK (a bitmask, a multiple of 4 bytes, bit i standing
// for ack_nr+2+i), 2 libutp's "extension bits" (8 bytes). Unknown extensions
// are skipped, as libutp and libtorrent do; libutp however takes a packet
// whose first extension type is 3 or more for its pre-BEP-29 format, so new
// types are unusable. This package instead sets a bit of its own in the
// extension bits of its SYN and of the answer to it, meaning "I read
// datagrams of 64 KiB whole"; between two Sockets of this package packets are
// then as large as the route's MTU (64 KiB on loopback), with any other
// implementation they stay small.
//
// Packet sizes toward other implementations: 1400 bytes (libutp's size,
// which fits tunnels within a 1500-byte path), or less when the kernel
// reports a smaller route MTU; never below 1232 bytes (IPv6's minimum MTU
// less headers), so a data packet carries at least 1,212 bytes.
//
// # Connections
//
// The initiator picks a random receive id r and sends its SYN with id r;
// it sends everything else with r+1, and the acceptor the reverse. The
// Socket's table maps (peer address, our receive id) to the connection; a
// RESET may carry either id, so three keys are tried, as libutp does. States:
// SYN-SENT (the SYN is retransmitted at 1, 2, 4 s: Config.SynRetries) →
// CONNECTED on the STATE that acks it. On the other side a SYN creates a
// half-open connection (SYN-RECV) that answers with a STATE announcing its
// random seq_nr; it becomes CONNECTED and is handed to Accept only when a
// packet acks exactly that seq_nr. Half-open connections are bounded
// (Config.MaxHalfOpen, beyond which SYNs are dropped) and expire
// (Config.HalfOpenTimeout): a flood of spoofed SYNs costs a bounded table and
// never reaches Accept. Close queues a FIN after the data already written and
// returns; the connection lingers in the background until the FIN is acked
// cumulatively, resetting if nothing more is acked for Config.Linger. A peer's
// FIN becomes io.EOF once everything before it has been read. Packets for no
// connection are answered with a RESET (never a RESET with a RESET).
//
// # Reliability and congestion
//
// The send side is a ring of packets by sequence number; writes are copied
// into pooled packet buffers and coalesce into the last packet while it is
// unsent. A partial packet waits while data is in flight (Nagle; Config.NoDelay
// turns that off). Acks are cumulative plus selective; ACKs for sequence
// numbers never sent are ignored (counted in ConnStats.IgnoredForged). A
// packet is declared lost when three packets sent after its last transmission
// are acked (selective ACK) or after three duplicate ACKs, and is resent at
// once (fast retransmit); the first loss in a window halves the congestion
// window. RTT and RTO follow BEP 29: rtt += (sample-rtt)/8, rtt_var +=
// (|rtt-sample|-rtt_var)/4, timeout = max(rtt+4·rtt_var, 500 ms), starting at
// 1 s, with Karn's rule (no sample from a retransmitted packet). A timeout
// doubles the RTO (up to 60 s), collapses the window to one packet, marks
// everything in flight lost and resends the oldest; Config.MaxRetransmits
// timeouts in a row without any packet from the peer end the connection with
// ErrTimeout.
//
// LEDBAT: each ACK's timestamp difference is a one-way delay sample. The
// base delay is the minimum over 13 one-minute buckets (so a route change is
// forgotten within 13 minutes); the queuing delay is the minimum of the last
// three samples less the base, bounded by the RTT (larger values are clock
// drift), with wrapping 32-bit arithmetic. Below the 100 ms target the window
// grows by at most the gain per RTT, gain · (bytes acked / window) ·
// (target-delay)/target per ACK, the gain being the larger of libutp's 3000
// bytes and one packet; a sender that did not fill its window does not grow
// it. Above the target the window shrinks multiplicatively, by the fraction
// by which the delay exceeds the target per RTT (at most half), as LEDBAT++
// does: BEP 29's linear decrease takes tens of seconds to leave a link that a
// TCP flow has started to fill. Slow start (doubling per RTT) runs until a
// loss or a delay of 90% of the target. The window is at least one packet
// and at most Config.SendBuffer.
//
// The receive window advertised is Config.RecvBuffer less the bytes waiting
// for Read and those held past a gap (at most 1024 packets ahead); data
// beyond it is dropped. When Read opens a window the peer knows to be small,
// a STATE tells it at once. A sender facing a zero window probes it with one
// packet after max(RTO, 1 s) and then at the backed-off RTO; any reply resets
// the retry count, so a peer that acks but never reads keeps the connection
// (and Write blocks until its deadline) with bounded memory. Idle connections
// send a keep-alive ACK every 29 s (Config.KeepAlive) for NAT mappings.
//
// # Goroutines, timers, batching
//
// A Socket has two goroutines. The reader reads datagrams in batches
// (recvmmsg on Linux, decoding addresses into netip.AddrPort: no allocation;
// golang.org/x/net/ipv4's ReadBatch makes the same system call but allocates
// a *net.UDPAddr per datagram), demultiplexes them by the first byte
// (type<<4|1 is uTP, anything else, such as a KRPC message's 'd', goes to the
// PacketConn view) and by connection id, and runs each connection's packets
// under its lock; what they cause (ACKs, data the window now allows) goes out
// with one sendmmsg before the lock is released, because the batch points at
// packet buffers only an ACK may free. Headers are built per transmission
// into the batch and sent with the payload by scatter-gather, so payloads are
// never copied after Write. The timer goroutine serves every connection with
// one time.Timer over a heap of deadlines, one entry per connection; moving a
// deadline later costs nothing (its entry fires early and the connection
// reschedules). User goroutines (Read, Write, Close) send directly. Payload
// buffers come from size-classed pools and return to them when acked or read,
// so the data path allocates nothing per packet.
//
// # Why our own code
//
// anacrolix/utp, the pure-Go implementation, is deprecated by its author in
// favour of the cgo wrapper of libutp (anacrolix/go-libutp), which would make
// a C++ compiler a requirement of go install. This package follows BEP 29 and
// libutp's observable behaviour (ids, seq/ack conventions, timeouts, SACK,
// keep-alives) and is tested against libtorrent's own uTP.
package utp

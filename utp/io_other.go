//go:build !linux

package utp

import "net"

type txSys struct{}

func newTransport(pc net.PacketConn) transport {
	g := &genericIO{pc: pc}
	g.udp, _ = pc.(*net.UDPConn)
	return g
}

func growBuffers(*net.UDPConn) {}

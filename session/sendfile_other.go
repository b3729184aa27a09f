//go:build !linux

package session

// zeroCopy is the sendfile upload path, Linux only (it relies on
// TCP_CORK); elsewhere every block is read and written (writeBatch).
type zeroCopy struct{}

func (p *Peer) setupZeroCopy() {}

func (p *Peer) writeBatchZeroCopy(out []byte, reqs []upReq) error { return p.writeBatch(out, reqs) }

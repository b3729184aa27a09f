package session

import (
	"io"
	"net"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/storage"
	"golang.org/x/sys/unix"
)

// spanner is what the zero-copy upload path needs from storage: a block
// as a range of one open file (package storage's FileSpan).
type spanner interface {
	FileSpan(index int, begin int64, n int) (storage.Span, bool, error)
}

// zeroCopy is a peer's state for sending blocks with sendfile(2): the
// block goes from the page cache to the socket without being copied into
// and out of our memory (a seeder spent two thirds of its CPU on those
// two copies and the read cache's). The piece header before each block is
// an ordinary write; TCP_CORK holds a batch's headers and blocks until the
// batch is done so that they leave in full segments.
type zeroCopy struct {
	rc    syscall.RawConn
	store spanner
	// Bound once (a method value or closure per call would allocate).
	step        func(fd uintptr) bool
	ctl, ctlOff func(fd uintptr)
	in          int   // file descriptor being sent
	off         int64 // its offset, advanced by the kernel
	left        int
	err         error
	scratch     []byte
}

// setupZeroCopy enables the sendfile path when the connection is a TCP
// socket and the store can lend file ranges (a peer connected before the
// metadata was known keeps the copying path).
func (p *Peer) setupZeroCopy() {
	tc, ok := p.conn.(*net.TCPConn)
	g := p.f.g()
	if !ok || g == nil {
		return
	}
	sp, ok2 := g.store.(spanner)
	if !ok2 {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	z := &zeroCopy{rc: rc, store: sp, scratch: make([]byte, 0, 1024)}
	z.step = z.sendStep
	z.ctl = func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK, 1) }
	z.ctlOff = func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK, 0) }
	p.zc = z
}

// sendStep is the RawConn.Write callback: it sends what is left of the
// span, returning false to wait for the socket to drain.
func (z *zeroCopy) sendStep(fd uintptr) bool {
	for z.left > 0 {
		n, err := unix.Sendfile(int(fd), z.in, &z.off, z.left)
		if n > 0 {
			z.left -= n
		}
		switch {
		case err == unix.EAGAIN:
			return false
		case err == unix.EINTR:
		case err != nil:
			z.err = err
			return true
		case n == 0:
			z.err = io.ErrUnexpectedEOF // the file is shorter than the torrent says
			return true
		}
	}
	return true
}

// sendSpan sends one file range down the socket.
func (z *zeroCopy) sendSpan(sp storage.Span) error {
	z.in, z.off, z.left, z.err = int(sp.Fd()), sp.Off, sp.N, nil
	if err := z.rc.Write(z.step); err != nil {
		return err
	}
	return z.err
}

// writeBatchZeroCopy sends out and the blocks of reqs: each block's
// header with a write, the block itself with sendfile, all under
// TCP_CORK. Blocks that cross a file boundary or lie in padding are read
// and written as in writeBatch.
func (p *Peer) writeBatchZeroCopy(out []byte, reqs []upReq) error {
	z := p.zc
	buf := append(z.scratch[:0], out...)
	corked := false
	defer func() {
		if corked {
			_ = z.rc.Control(z.ctlOff)
		}
		z.scratch = buf[:0]
	}()
	g := p.f.g()
	for _, u := range reqs {
		if !g.have.Has(int(u.index)) {
			continue // never serve what we do not have (checked on enqueue)
		}
		sp, ok, err := z.store.FileSpan(int(u.index), int64(u.begin), int(u.length))
		if err == nil && !ok {
			// Across files or padding: copy it, as writeBatch does.
			n := len(buf)
			buf = peerwire.AppendPieceHeader(buf, u.index, u.begin, int(u.length))
			buf = append(buf, make([]byte, u.length)...)
			err = g.store.ReadBlock(int(u.index), int64(u.begin), buf[len(buf)-int(u.length):])
			if err == nil {
				if err := p.waitUpload(int(u.length)); err != nil {
					return err
				}
				p.uploaded.Add(int64(u.length))
				p.f.sentByCopy.Add(1)
				continue
			}
			buf = buf[:n]
		}
		if err != nil {
			buf = p.unreadable(buf, u, err)
			continue
		}
		if err := p.waitUpload(int(u.length)); err != nil {
			sp.Release()
			return err
		}
		if !corked && !p.uploadLimited() {
			// (Not under a rate limit: its waits would hold corked data.)
			_ = z.rc.Control(z.ctl)
			corked = true
		}
		buf = peerwire.AppendPieceHeader(buf, u.index, u.begin, int(u.length))
		// Counted before the write, as in writeBatch.
		p.uploaded.Add(int64(u.length))
		_, err = p.conn.Write(buf)
		buf = buf[:0]
		if err == nil {
			err = z.sendSpan(sp)
		}
		sp.Release()
		if err != nil {
			return err
		}
		p.f.sentByFile.Add(1)
	}
	if len(buf) > 0 {
		if _, err := p.conn.Write(buf); err != nil {
			return err
		}
	}
	p.lastSend.Store(time.Now().UnixNano())
	return nil
}

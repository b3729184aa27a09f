package utp

import (
	"net"
	"os"
	"sync"
	"time"
)

// Listener returns a net.Listener view of the Socket for an acceptor pool
// that may close its listeners while the Socket goes on: Accept is the
// Socket's Accept; SetDeadline bounds Accept (os.ErrDeadlineExceeded) and a
// deadline in the past wakes a waiting Accept; Close stops accepting
// (incoming SYNs are then answered with a RESET, as a closed TCP port
// answers with RST) without touching established connections, dialling or
// the PacketConn view. Each call returns a new view; accepting stops when the
// last open view closes, if any was ever made.
func (s *Socket) Listener() net.Listener {
	s.mu.Lock()
	s.views++
	s.mu.Unlock()
	return &listenerView{s: s, closed: make(chan struct{}), dl: newDeadline()}
}

type listenerView struct {
	s      *Socket
	closed chan struct{}
	once   sync.Once
	dl     deadline
}

func (l *listenerView) Accept() (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	if l.dl.expired() {
		return nil, os.ErrDeadlineExceeded
	}
	select {
	case c := <-l.s.acceptCh:
		return c, nil
	case <-l.s.closing:
		return nil, net.ErrClosed
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.dl.wait():
		return nil, os.ErrDeadlineExceeded
	}
}

func (l *listenerView) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.closed)
		l.dl.stop()
		s := l.s
		s.mu.Lock()
		s.views--
		if s.views == 0 {
			s.refuse = true
		}
		s.mu.Unlock()
		// Connections already waiting would never be accepted now.
		for {
			select {
			case c := <-s.acceptCh:
				c.Close()
				continue
			default:
			}
			break
		}
		err = nil
	})
	return err
}

func (l *listenerView) Addr() net.Addr { return l.s.Addr() }

func (l *listenerView) SetDeadline(t time.Time) error {
	l.dl.set(t)
	return nil
}

// SetDeadline bounds the Socket's own Accept and AcceptContext (they return
// os.ErrDeadlineExceeded after t; the zero time removes the bound). It does
// not touch connections. The acceptor package uses it to wake acceptors.
func (s *Socket) SetDeadline(t time.Time) error {
	s.acceptDL.set(t)
	return nil
}

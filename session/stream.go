package session

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/statem"
)

// Streaming readers. A reader (a player reading a file while it downloads)
// registers a window with SetReader after each read that enters another
// piece and on every seek; the session hands it to the core, which turns
// it into deadlines (see core.Window). ReadVerified waits for the piece
// under the reading position to be verified and reads the verified bytes
// from storage: never a byte of a piece that is not verified. While a
// reader exists the core is ticked every streamTickInterval, so that
// deadlines and late blocks are seen within a tenth of a second.
//
// The session keeps each reader's latest window: a window set before the
// core exists (a magnet's Metadata phase) is applied once it does.

// ReaderID names a reader's window; NewReaderID hands out distinct ones.
type ReaderID = core.ReaderID

// Window is where a reader reads, in torrent byte offsets (core.Window:
// Pos, End, Readahead, Rate).
type Window = core.Window

// MaxReaders is the most readers a session tracks at once.
const MaxReaders = core.MaxReaders

// ErrNotVerified is wrapped by ReadVerified's error when ctx ended before
// the piece was verified (errors.Is also matches ctx's error).
var ErrNotVerified = errors.New("session: piece not verified yet")

// streamTickInterval is how often the core is ticked while a reader
// exists (the core advises 100 ms: deadlines are dated at its Ticks).
const streamTickInterval = 100 * time.Millisecond

// streamTick names the readers' timer (the session's own tick is
// tickTimer).
type streamTick struct{}

// streamShared is the readers' side of the session, used from their
// goroutines: wake-ups on verified pieces and the guard that keeps reads
// off a closed storage.
type streamShared struct {
	ids atomic.Uint32 // last ReaderID handed out

	mu   sync.Mutex
	wake chan struct{} // closed and replaced when pieces are verified

	storeMu     sync.RWMutex // held for reading by every storage read
	storeClosed bool         // the storage is closing: reads fail
}

// streamState is the server's: every reader's latest window.
type streamState struct {
	windows map[ReaderID]Window
	applied map[ReaderID]bool // the core has the window (it existed)
	ticking bool              // the streamTick timer is set
	ticked  bool              // the core was ticked (its clock is not zero)
}

// waitChan returns the channel closed at the next batch of verified pieces.
func (sh *streamShared) waitChan() chan struct{} {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.wake == nil {
		sh.wake = make(chan struct{})
	}
	return sh.wake
}

// piecesVerified wakes the readers (session goroutine, after the have-set
// was updated).
func (sh *streamShared) piecesVerified() {
	sh.mu.Lock()
	if sh.wake != nil {
		close(sh.wake)
		sh.wake = nil
	}
	sh.mu.Unlock()
}

// closeStore makes later reads fail and waits for those in progress: the
// storage may then close.
func (sh *streamShared) closeStore() {
	sh.storeMu.Lock()
	sh.storeClosed = true
	sh.storeMu.Unlock()
}

// NewReaderID returns a ReaderID no other reader of this session has.
func (s *Session) NewReaderID() ReaderID { return ReaderID(s.rd.ids.Add(1)) }

// SetReader creates or moves reader id's window: the pieces in it are
// fetched first, in deadline order, whatever the file priorities (pieces
// of a skipped file are fetched too). Call it after each read that enters
// another piece and on every seek. It never blocks; it fails with
// ErrStopped once the session has ended. A window beyond the core's
// MaxReaders is ignored (the reader still reads, without deadlines).
func (s *Session) SetReader(id ReaderID, w Window) error {
	if !s.post(evSetReader{id: id, w: w}) {
		return ErrStopped
	}
	return nil
}

// RemoveReader forgets reader id's window: its pieces go back to their
// file priorities. It never blocks; unknown ids are ignored.
func (s *Session) RemoveReader(id ReaderID) {
	s.post(evRemoveReader{id: id})
}

// ReadVerified reads up to len(p) bytes at torrent offset off from
// verified pieces: it waits until the piece holding off is verified (and,
// for a magnet, the metadata is known), then reads that piece and the
// verified pieces that follow it, stopping at the first one that is not.
// It returns n > 0 with a nil error, or 0 and an error: io.EOF at the
// torrent's end, ErrStopped when the session ends first, an error wrapping
// ErrNotVerified and ctx.Err() when ctx does, or the storage's error. It
// is safe for concurrent use.
func (s *Session) ReadVerified(ctx context.Context, p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.waitInfo(ctx); err != nil {
		return 0, err
	}
	g := s.facts.g()
	if off < 0 {
		return 0, errors.New("session: negative offset")
	}
	if off >= g.total {
		return 0, io.EOF
	}
	first := int(off / g.pieceLen)
	for {
		wake := s.rd.waitChan()
		if g.have.Has(first) {
			break
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, errors.Join(ErrNotVerified, ctx.Err())
		case <-s.m.Done():
			if g.have.Has(first) {
				continue // verified just before the end: still on disk
			}
			return 0, ErrStopped
		}
	}
	end := min(off+int64(len(p)), g.total)
	last := int((end - 1) / g.pieceLen)
	for i := first + 1; i <= last; i++ {
		if !g.have.Has(i) {
			end = int64(i) * g.pieceLen
			break
		}
	}
	return s.readStore(g, p[:end-off], off)
}

// waitInfo waits until the info dictionary is known.
func (s *Session) waitInfo(ctx context.Context) error {
	select {
	case <-s.infoReady:
		return nil
	default:
	}
	select {
	case <-s.infoReady:
		return nil
	case <-ctx.Done():
		return errors.Join(ErrNoMetadata, ctx.Err())
	case <-s.m.Done():
		select {
		case <-s.infoReady:
			return nil
		default:
		}
		return ErrStopped
	}
}

// readStore reads verified bytes from storage, unless it is closing.
func (s *Session) readStore(g *geometry, p []byte, off int64) (int, error) {
	s.rd.storeMu.RLock()
	defer s.rd.storeMu.RUnlock()
	if s.rd.storeClosed {
		return 0, ErrStopped
	}
	ra, ok := g.store.(io.ReaderAt)
	if !ok {
		return 0, errors.New("session: storage cannot be read")
	}
	n, err := ra.ReadAt(p, off)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Events of the readers.
type (
	// evSetReader: a reader's window moved (SetReader).
	evSetReader struct {
		id ReaderID
		w  Window
	}
	// evRemoveReader: a reader closed (RemoveReader).
	evRemoveReader struct{ id ReaderID }
)

func (e evSetReader) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	st := &srv.stream
	if st.windows == nil {
		st.windows = make(map[ReaderID]Window)
		st.applied = make(map[ReaderID]bool)
	}
	if _, ok := st.windows[e.id]; !ok && len(st.windows) >= MaxReaders {
		return srv.keepPhase()
	}
	st.windows[e.id] = e.w
	if srv.core != nil {
		srv.tickOnce()
		if srv.core.SetReader(e.id, e.w) == nil {
			st.applied[e.id] = true
		}
	}
	return srv.streamStep(ph)
}

func (e evRemoveReader) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	st := &srv.stream
	if _, ok := st.windows[e.id]; !ok {
		return srv.keepPhase()
	}
	delete(st.windows, e.id)
	if st.applied[e.id] {
		srv.core.RemoveReader(e.id)
	}
	delete(st.applied, e.id)
	return srv.streamStep(ph)
}

// streamUrgent reports whether piece i is one a reader waits for or will
// next (the piece of a window's position, or the one after): the hasher
// then does not hold it back for company (it waits up to 20 ms to fill a
// batch).
func (srv *server) streamUrgent(i uint32) bool {
	if len(srv.stream.windows) == 0 || srv.g == nil {
		return false
	}
	for _, w := range srv.stream.windows {
		if p := w.Pos / srv.g.pieceLen; int64(i) == p || int64(i) == p+1 {
			return true
		}
	}
	return false
}

// tickOnce ticks the core if it never was: before its first Tick its
// clock reads zero, which would date a window's deadlines in the past
// (the session ticks it only from the end of the check).
func (srv *server) tickOnce() {
	if !srv.stream.ticked {
		srv.core.Tick(time.Since(srv.start))
		srv.stream.ticked = true
	}
}

// applyPending hands the core the windows set before it existed (a
// magnet's Metadata phase) or refused (beyond the core's MaxReaders).
func (srv *server) applyPending() {
	st := &srv.stream
	srv.tickOnce()
	for id, w := range st.windows {
		if !st.applied[id] && srv.core.SetReader(id, w) == nil {
			st.applied[id] = true
		}
	}
}

// streamStep performs the core's decisions and keeps the readers' timer
// set while there are readers.
func (srv *server) streamStep(ph Phase) statem.Result[Phase, *server] {
	if ph == Checking || srv.core == nil {
		return srv.keepPhase(srv.armStreamTick(nil)...)
	}
	return srv.step(ph, srv.armStreamTick(nil)...)
}

// armStreamTick sets the readers' timer when there are readers and it is
// not set.
func (srv *server) armStreamTick(actions []statem.Action) []statem.Action {
	st := &srv.stream
	if !st.ticking && len(st.windows) > 0 {
		st.ticking = true
		actions = append(actions, statem.SetGenericTimeout(streamTick{}, streamTickInterval, nil))
	}
	return actions
}

// onStreamTick ticks the core for the readers (in every phase that has a
// core: during the check too, so that its clock is current when the check
// ends) and applies the windows set before it existed.
func (srv *server) onStreamTick(ph Phase) statem.Result[Phase, *server] {
	st := &srv.stream
	st.ticking = false
	if ph == Stopped || ph == Failed {
		return srv.keepPhase()
	}
	if srv.core != nil {
		if len(st.applied) < len(st.windows) {
			srv.applyPending()
		}
		srv.core.Tick(time.Since(srv.start))
		st.ticked = true
	}
	return srv.streamStep(ph)
}

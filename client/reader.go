package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/session"
)

// ErrReaderClosed is returned by a Reader's methods after its Close.
var ErrReaderClosed = errors.New("client: reader closed")

// Reader reads one file of a torrent (NewReader), or the whole torrent
// (NewTorrentReader), while it downloads: a read waits until the bytes at
// the position are in verified pieces, and never returns a byte of a piece
// that is not verified. Where it reads steers the download: the pieces
// from the position to a readahead beyond it get deadlines and are fetched
// first, in order, from the fastest peers, whatever the file priorities (a
// skipped file's pieces are fetched while they are read). A seek moves that
// window at the next read.
//
// A Reader is safe for concurrent use (calls are serialized); Close may be
// called at any time and ends a read that is waiting. Reads wait across
// Pause and Resume; they fail with an error wrapping ErrClosed once the
// torrent is removed or the client shut down, with the torrent's error if
// it failed, and with ErrReaderClosed after Close.
type Reader struct {
	t    *Torrent
	file int // -1: the whole torrent

	ctx    context.Context // cancelled by Close: ends a waiting read
	cancel context.CancelFunc

	readahead atomic.Int64 // 0: the core's default (rate times a few seconds)

	mu       sync.Mutex // serializes the calls; held across a waiting read
	closed   bool
	known    bool  // span resolved (the metainfo is known)
	off, end int64 // the span in torrent offsets
	pieceLen int64
	pos      int64 // position in the span

	sess       *session.Session // the session the window is registered with
	id         session.ReaderID // ...and its id there
	sent       bool             // the window was sent to sess
	sentPiece  int64            // the piece of Pos the last window had
	sentRate   int64
	sentAhead  int64
	rate       rateMeter
	lastReadAt time.Time
}

// NewReader returns a Reader of file i (an index of Files' Index; padding
// files have none). For a magnet whose metadata has not arrived, the index
// is checked at the first read, which waits for the metadata.
func (t *Torrent) NewReader(i int) (*Reader, error) {
	if mi := t.MetaInfo(); mi != nil {
		if i < 0 || i >= len(mi.Info.Files) || mi.Info.Files[i].Padding {
			return nil, fmt.Errorf("client: no file %d in %s", i, t.Name())
		}
	} else if i < 0 {
		return nil, fmt.Errorf("client: no file %d in %s", i, t.Name())
	}
	return t.newReader(i)
}

// NewTorrentReader returns a Reader of the whole torrent: its files one
// after the other, as its pieces hold them (padding files read as zeros).
func (t *Torrent) NewTorrentReader() (*Reader, error) { return t.newReader(-1) }

func (t *Torrent) newReader(i int) (*Reader, error) {
	if t.isClosed() {
		return nil, ErrClosed
	}
	r := &Reader{t: t, file: i}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	// The torrent's last reader was most likely the same player before a
	// seek (an HTTP player opens a request per seek): start from its rate.
	r.rate.est = float64(t.readRate.Load())
	return r, nil
}

// SetReadahead sets how many bytes past the position the reader wants
// ahead of time; 0 (the default) sizes it to the rate the reader consumes
// bytes at, times a few seconds (core.DefaultReadahead). It takes effect at
// the next read.
func (r *Reader) SetReadahead(n int64) { r.readahead.Store(max(n, 0)) }

// Read reads like ReadContext without a context: it waits until the bytes
// are verified, the Reader is closed or the torrent removed.
func (r *Reader) Read(p []byte) (int, error) { return r.ReadContext(context.Background(), p) }

// ReadContext reads up to len(p) bytes at the position and advances it. It
// waits until the piece at the position is verified (and, for a magnet,
// the metadata is known), then returns what verified pieces hold from
// there: n > 0 bytes and a nil error, or 0 and io.EOF at the end. When ctx
// ends first it returns ctx's error; see Reader for the others.
func (r *Reader) ReadContext(ctx context.Context, p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, ErrReaderClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if n, ok := r.readNow(p); ok {
		return n, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(r.ctx, cancel)
	defer stop()
	if err := r.resolve(ctx); err != nil {
		return 0, r.ctxErr(ctx, err)
	}
	if r.pos >= r.end-r.off {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.end-r.off-r.pos)]
	for {
		s, err := r.t.current(ctx)
		if err != nil {
			return 0, r.ctxErr(ctx, err)
		}
		r.window(s)
		start := time.Now()
		n, err := s.ReadVerified(ctx, p, r.off+r.pos)
		if err == nil {
			r.advance(s, n, start)
			return n, nil
		}
		if errors.Is(err, session.ErrStopped) {
			continue // paused, removed or failed: current says which
		}
		return 0, r.ctxErr(ctx, err)
	}
}

// noWait is a context that has ended: the calls given it return at once
// where they would wait.
var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// readNow is the read of bytes already verified (what was played, after a
// seek back; what the window fetched ahead): it reads without waiting, and
// moves the window after the read rather than before. It reports false,
// having read nothing, when the read would wait (or fail: the waiting read
// then says why).
func (r *Reader) readNow(p []byte) (int, bool) {
	if !r.known || r.pos >= r.end-r.off {
		return 0, false
	}
	s, err := r.t.current(noWait)
	if err != nil {
		return 0, false
	}
	start := time.Now()
	n, err := s.ReadVerified(noWait, p[:min(int64(len(p)), r.end-r.off-r.pos)], r.off+r.pos)
	if err != nil {
		return 0, false
	}
	r.advance(s, n, start)
	return n, true
}

// advance accounts for n bytes read from s, started at start: the rate,
// the position, and the window, which moves on to the next piece at once.
func (r *Reader) advance(s *session.Session, n int, start time.Time) {
	now := time.Now()
	if r.rate.add(now, n, now.Sub(start), r.lastReadAt) {
		r.t.readRate.Store(int64(r.rate.est))
	}
	r.lastReadAt = now
	r.pos += int64(n)
	if r.pos < r.end-r.off {
		r.window(s)
	}
}

// ctxErr turns the error of a read that ctx ended into ctx's error, or
// ErrReaderClosed when Close ended it.
func (r *Reader) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	if r.ctx.Err() != nil {
		return ErrReaderClosed
	}
	return ctx.Err()
}

// Seek sets the position for the next read (io.Seeker); the window moves
// there at that read. A position past the end is allowed (reads return
// io.EOF). Seeking from the end needs the file's size: before a magnet's
// metadata it fails with an error wrapping session.ErrNoMetadata.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, ErrReaderClosed
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		if !r.known {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // do not wait: only a metainfo already known will do
			if err := r.resolve(ctx); err != nil {
				if ctx.Err() != nil && !errors.Is(err, ErrClosed) {
					err = fmt.Errorf("client: seek from the end: %w", session.ErrNoMetadata)
				}
				return 0, err
			}
		}
		abs = r.end - r.off + offset
	default:
		return 0, fmt.Errorf("client: seek: bad whence %d", whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("client: seek to %d: negative position", abs)
	}
	r.pos = abs
	return abs, nil
}

// Close releases the reader: its window no longer steers the download,
// and a read waiting ends with ErrReaderClosed. It always returns nil.
func (r *Reader) Close() error {
	r.cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.sess != nil && r.sent {
		r.sess.RemoveReader(r.id)
	}
	r.sess = nil
	return nil
}

// resolve finds the span once the metainfo is known, waiting for it.
func (r *Reader) resolve(ctx context.Context) error {
	if r.known {
		return nil
	}
	t := r.t
	for {
		t.mu.Lock()
		mi, closed, changed := t.mi, t.closed, t.changed
		t.mu.Unlock()
		switch {
		case mi != nil:
			info := &mi.Info
			r.pieceLen = info.PieceLength
			if r.file < 0 {
				r.off, r.end = 0, info.TotalLength()
			} else {
				if r.file >= len(info.Files) || info.Files[r.file].Padding {
					return fmt.Errorf("client: no file %d in %s", r.file, info.Name)
				}
				f := info.Files[r.file]
				r.off, r.end = f.Offset, f.Offset+f.Length
			}
			r.known = true
			return nil
		case closed:
			return ErrClosed
		}
		select {
		case <-t.infoOK:
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// current returns the torrent's running session, waiting while it is
// paused or being restarted: ErrClosed once the torrent is removed or the
// client shut down, the torrent's error if it failed.
func (t *Torrent) current(ctx context.Context) (*session.Session, error) {
	for {
		t.mu.Lock()
		s, changed, closed, lastErr := t.sess, t.changed, t.closed, t.lastErr
		t.mu.Unlock()
		switch {
		case closed:
			return nil, ErrClosed
		case s == nil && lastErr != nil:
			return nil, lastErr
		case s != nil:
			select {
			case <-s.Done():
			default:
				return s, nil
			}
			// Ended: failed by itself, or being stopped (Pause, Remove,
			// Shutdown), after which t changes.
			if err := s.Await(ctx); err != nil && !errors.Is(err, session.ErrStopped) && ctx.Err() == nil {
				return nil, err
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// window sends the reader's window to s when it moved to another piece, its
// rate or readahead changed, or s is a new session (after a Resume).
func (r *Reader) window(s *session.Session) {
	if r.sess != s {
		if r.sess != nil && r.sent {
			r.sess.RemoveReader(r.id)
		}
		r.sess, r.id, r.sent = s, s.NewReaderID(), false
	}
	pos := r.off + r.pos
	piece := pos / r.pieceLen
	rate := r.rate.bps()
	ahead := r.readahead.Load()
	if r.sent && piece == r.sentPiece && ahead == r.sentAhead && !rateMoved(r.sentRate, rate) {
		return
	}
	if s.SetReader(r.id, session.Window{Pos: pos, End: r.end, Readahead: ahead, Rate: rate}) == nil {
		r.sent, r.sentPiece, r.sentRate, r.sentAhead = true, piece, rate, ahead
	}
}

// rateMoved reports whether the rate changed enough (a quarter) to move
// the window's deadlines.
func rateMoved(old, now int64) bool {
	d := old - now
	return 4*max(d, -d) > old
}

// rateMeter estimates the rate a reader consumes bytes at: bytes read over
// the time not spent waiting for them, in spans of at least a second,
// smoothed. Pauses of the reader (no read for longer than rateGap) are not
// counted. Never below core.DefaultReadRate.
type rateMeter struct {
	start   time.Time     // of the current span
	bytes   int64         // read in it
	waited  time.Duration // spent waiting in it
	est     float64       // smoothed bytes per second (0: none yet)
	started bool
}

const (
	rateSpan = time.Second
	rateGap  = 2 * time.Second
)

// add counts a read of n bytes that waited for them; it reports whether
// the estimate was updated.
func (m *rateMeter) add(now time.Time, n int, waited time.Duration, last time.Time) bool {
	if !m.started || now.Sub(last) > rateGap+waited {
		m.start, m.bytes, m.waited, m.started = now.Add(-waited), 0, 0, true
	}
	m.bytes += int64(n)
	m.waited += waited
	span := now.Sub(m.start) - m.waited
	if now.Sub(m.start) < rateSpan {
		return false
	}
	updated := false
	if span >= rateSpan/10 {
		sample := float64(m.bytes) / span.Seconds()
		if m.est == 0 {
			m.est = sample
		} else {
			m.est = 0.6*m.est + 0.4*sample
		}
		updated = true
	}
	m.start, m.bytes, m.waited = now, 0, 0
	return updated
}

// bps returns the estimate for a window (never below the core's default).
func (m *rateMeter) bps() int64 { return max(int64(m.est), core.DefaultReadRate) }

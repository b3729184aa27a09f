package webseed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
)

// drainLimit is how much of an error response's body is read so that its
// connection can be reused; beyond it the connection is closed instead.
const drainLimit = 4 << 10

// Fetch fills bufs, in order, with the torrent's bytes starting at offset
// off (their total length is how many bytes are fetched): one HTTP range
// request per file the range touches, padding files filled with zeros and
// never requested, empty files skipped. The body is read straight into
// bufs, so the caller can pass the 16 KiB blocks its session stores and
// hash them without a copy.
//
// If filled is not nil it is called, on Fetch's goroutine, with i once
// bufs[i] is complete, in order, as the bytes arrive (so a long run can be
// handed on block by block); it must not block for long. n counts the
// bytes written from the start of the range; after an error, the buffers
// reported by filled hold good bytes and the rest are undefined.
//
// Fetch waits for one of the seed's MaxConns connection slots (honouring
// ctx). It returns at once with a *BackoffError while the seed backs off,
// with an error wrapping ErrDropped once it is dropped, with an
// *UnavailableError for a range the seed cannot serve (see Servable), and
// with ErrRange for a range outside the torrent. A failed request (5xx and
// other statuses, a timeout, a connection error, a body shorter or longer
// than asked, a Content-Range not the one asked) backs the seed off; a
// 404, 410 or 416 makes its file unavailable from the seed instead. When
// ctx ends, Fetch returns ctx.Err() and the seed is not charged. Wrong
// data is not detected here: the caller verifies pieces and calls Strike.
func (s *Seed) Fetch(ctx context.Context, off int64, bufs [][]byte, filled func(i int)) (n int64, err error) {
	var total int64
	for _, b := range bufs {
		total += int64(len(b))
	}
	if off < 0 || total <= 0 || off > s.info.Length-total {
		return 0, fmt.Errorf("%w: [%d, +%d) of %d bytes", ErrRange, off, total, s.info.Length)
	}
	if _, err := s.admit(); err != nil {
		return 0, err
	}
	if err := s.checkServable(off, total); err != nil {
		return 0, err
	}
	var sl *slot
	select {
	case sl = <-s.slots:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.life.Done():
		return s.admitErr()
	}
	defer s.release(sl)
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sl.begin(cancel) // from here Drop and the stall timer cancel fctx
	defer sl.end()
	// Admitted again: the seed may have failed or been dropped meanwhile.
	epoch, err := s.admit()
	if err != nil {
		return 0, err
	}

	r := request{s: s, ctx: fctx, slot: sl, cur: cursor{bufs: bufs, filled: filled}}
	r.cur.settle()
	pos, end := off, off+total
	for fi := s.locate(off); pos < end; fi++ {
		f := &s.info.Files[fi]
		n := min(end-pos, f.Offset+f.Length-pos)
		if n <= 0 {
			continue // an empty file
		}
		if f.Padding {
			r.cur.zero(n)
		} else if err := r.get(fi, pos-f.Offset, n); err != nil {
			return r.cur.done, s.failed(ctx, fctx, epoch, err)
		}
		pos += n
	}
	s.succeed(epoch)
	return total, nil
}

// FetchPieces is Fetch for count consecutive pieces from first: bufs must
// hold exactly their bytes.
func (s *Seed) FetchPieces(ctx context.Context, first, count int, bufs [][]byte, filled func(i int)) (int64, error) {
	np := len(s.info.Pieces)
	if first < 0 || count <= 0 || first > np-count {
		return 0, fmt.Errorf("%w: pieces [%d, +%d) of %d", ErrRange, first, count, np)
	}
	off := int64(first) * s.info.PieceLength
	want := min(int64(count)*s.info.PieceLength, s.info.Length-off)
	var total int64
	for _, b := range bufs {
		total += int64(len(b))
	}
	if total != want {
		return 0, fmt.Errorf("%w: %d bytes of buffers for %d bytes of pieces", ErrRange, total, want)
	}
	return s.Fetch(ctx, off, bufs, filled)
}

func (s *Seed) admitErr() (int64, error) {
	_, err := s.admit()
	return 0, err
}

// release returns a connection slot. After a drop the last fetch out closes
// the connections it left idle, which Drop could not see.
func (s *Seed) release(sl *slot) {
	s.slots <- sl
	if s.life.Err() != nil && s.own != nil {
		s.own.CloseIdleConnections()
	}
}

// failed turns a request's error into Fetch's and does the accounting:
// the caller's cancellation and a drop cost the seed nothing, an
// unavailable file is counted but not backed off, everything else backs
// the seed off.
func (s *Seed) failed(ctx, fctx context.Context, epoch uint64, err error) error {
	if errors.Is(err, ErrUnavailable) {
		s.errs.Add(1)
		s.mu.Lock()
		s.lastErr = err
		s.mu.Unlock()
		return err
	}
	if fctx.Err() != nil {
		switch cause := context.Cause(fctx); {
		case cause == ErrTimeout:
			err = fmt.Errorf("%w (%v)", ErrTimeout, s.cfg.Timeout)
		case cause == ErrDropped:
			_, err := s.admit()
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		}
	}
	var retryAfter time.Duration
	var se *StatusError
	if errors.As(err, &se) {
		retryAfter = se.RetryAfter
	}
	err = fmt.Errorf("webseed %s: %w", s.raw, err)
	s.fail(epoch, err, retryAfter)
	return err
}

// checkServable refuses a range that touches a part of a file the seed
// cannot serve, before any request.
func (s *Seed) checkServable(off, total int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.avail.files) == 0 {
		return nil
	}
	for fi, pos, end := s.locate(off), off, off+total; pos < end; fi++ {
		f := &s.info.Files[fi]
		n := min(end-pos, f.Offset+f.Length-pos)
		if n > 0 && !f.Padding {
			if e := s.avail.check(fi, pos-f.Offset, n); e != nil {
				return e
			}
		}
		pos += max(n, 0)
	}
	return nil
}

// restrict records that file fi can be served only up to limit.
func (s *Seed) restrict(fi int, limit int64, cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.avail.restrict(fi, limit, cause)
}

// locate returns the index of the file holding torrent offset off: the
// first file ending after it (empty files end where they start).
func (s *Seed) locate(off int64) int {
	files := s.info.Files
	lo, hi := 0, len(files)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if files[m].Offset+files[m].Length > off {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// request is one Fetch's state while it walks its file spans.
type request struct {
	s    *Seed
	ctx  context.Context
	slot *slot
	cur  cursor
}

// get fetches bytes [start, start+n) of file fi into the cursor.
func (r *request) get(fi int, start, n int64) error {
	s := r.s
	f := &s.info.Files[fi]
	u := s.urls.fileURL(f)
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	var rb [48]byte
	rh := append(rb[:0], "bytes="...)
	rh = strconv.AppendInt(rh, start, 10)
	rh = append(rh, '-')
	rh = strconv.AppendInt(rh, start+n-1, 10)
	req.Header["Range"] = []string{string(rh)}
	req.Header["Accept-Encoding"] = identity
	if s.cfg.UserAgent != "" {
		req.Header["User-Agent"] = []string{s.cfg.UserAgent}
	}
	r.slot.progress()
	s.requests.Add(1)
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is added once, by failed
		}
		return err
	}
	defer resp.Body.Close()
	r.slot.progress()
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return fmt.Errorf("%w: content-encoding %q", ErrBadResponse, truncate(ce, 32))
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		return r.partial(resp, fi, f, start, n)
	case http.StatusOK:
		return r.whole(resp, fi, f, start, n)
	case http.StatusNotFound, http.StatusGone, http.StatusRequestedRangeNotSatisfiable:
		drain(resp.Body)
		return s.restrict(fi, 0, &StatusError{Code: resp.StatusCode})
	}
	drain(resp.Body)
	return &StatusError{Code: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
}

var identity = []string{"identity"}

// partial reads a 206 answer after checking it is the range asked for.
func (r *request) partial(resp *http.Response, fi int, f *metainfo.File, start, n int64) error {
	first, last, size, err := parseContentRange(resp.Header.Get("Content-Range"))
	if err != nil {
		return err
	}
	if size >= 0 && size != f.Length {
		return r.s.restrict(fi, 0, fmt.Errorf("%w: the server's file has %d bytes, the torrent's %d", ErrBadResponse, size, f.Length))
	}
	if first != start || last != start+n-1 {
		return fmt.Errorf("%w: content-range %d-%d, asked %d-%d", ErrBadResponse, first, last, start, start+n-1)
	}
	if cl := resp.ContentLength; cl >= 0 && cl != n {
		if cl < n {
			return fmt.Errorf("%w: content-length %d, asked %d", ErrShortBody, cl, n)
		}
		return fmt.Errorf("%w: content-length %d, asked %d", ErrLongBody, cl, n)
	}
	if err := r.read(resp.Body, n); err != nil {
		return err
	}
	if resp.ContentLength < 0 {
		// A body of unknown length must end here: one byte more is too many.
		switch m, err := io.ReadFull(resp.Body, r.slot.one[:]); {
		case m > 0:
			return fmt.Errorf("%w: more than the %d bytes asked", ErrLongBody, n)
		case err != io.EOF:
			return err
		}
	}
	return nil
}

// whole reads the asked bytes out of a 200 answer (the server ignored
// Range and sends the whole file): it skips to start, up to MaxSkip, reads
// n bytes and leaves the rest unread (closing the body then closes the
// connection).
func (r *request) whole(resp *http.Response, fi int, f *metainfo.File, start, n int64) error {
	s := r.s
	if cl := resp.ContentLength; cl >= 0 && cl != f.Length {
		return s.restrict(fi, 0, fmt.Errorf("%w: the server's file has %d bytes, the torrent's %d", ErrBadResponse, cl, f.Length))
	}
	if start > s.cfg.MaxSkip {
		return s.restrict(fi, s.cfg.MaxSkip, fmt.Errorf("%w: byte %d is beyond the %d bytes worth skipping", ErrRangeIgnored, start, s.cfg.MaxSkip))
	}
	// The caller's buffers, not yet filled, serve as scratch for the skip.
	for left := start; left > 0; {
		dst := r.cur.next(left)
		m, err := io.ReadFull(resp.Body, dst)
		s.wasted.Add(int64(m))
		left -= int64(m)
		if err != nil {
			return shortErr(err)
		}
		r.slot.progress()
	}
	return r.read(resp.Body, n)
}

// read reads exactly n bytes of body into the cursor, never more.
func (r *request) read(body io.Reader, n int64) error {
	for n > 0 {
		dst := r.cur.next(n)
		m, err := io.ReadFull(body, dst)
		r.s.bytes.Add(int64(m))
		r.cur.advance(m)
		n -= int64(m)
		if err != nil {
			return shortErr(err)
		}
		r.slot.progress()
	}
	return nil
}

func shortErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrShortBody
	}
	return err
}

// drain reads a little of an error response so that its connection may
// be reused; a longer body is left, and its connection closed.
func drain(body io.Reader) { io.CopyN(io.Discard, body, drainLimit) }

// cursor walks the caller's buffers.
type cursor struct {
	bufs   [][]byte
	i, pos int
	done   int64
	filled func(int)
}

// settle moves past complete buffers, reporting each.
func (c *cursor) settle() {
	for c.i < len(c.bufs) && c.pos == len(c.bufs[c.i]) {
		if c.filled != nil {
			c.filled(c.i)
		}
		c.i++
		c.pos = 0
	}
}

// next returns the unfilled part of the current buffer, at most max bytes
// (max > 0, and the buffers hold at least that many more).
func (c *cursor) next(max int64) []byte {
	b := c.bufs[c.i][c.pos:]
	if int64(len(b)) > max {
		b = b[:max]
	}
	return b
}

func (c *cursor) advance(n int) {
	c.pos += n
	c.done += int64(n)
	c.settle()
}

func (c *cursor) zero(n int64) {
	for n > 0 {
		b := c.next(n)
		clear(b)
		n -= int64(len(b))
		c.advance(len(b))
	}
}

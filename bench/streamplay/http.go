package streamplay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// httpSource streams the file from an HTTP server with Range requests, as
// a player does: one request from the position, read as it goes; a seek
// closes it and the next read opens another.
type httpSource struct {
	url  string
	c    http.Client
	body io.ReadCloser
	pos  int64
	size int64
}

func (s *httpSource) Open(ctx context.Context) (Reader, int64, error) {
	if err := s.request(ctx, 0); err != nil {
		return nil, 0, err
	}
	return s, s.size, nil
}

func (s *httpSource) request(ctx context.Context, off int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	resp, err := s.c.Do(req)
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range") // bytes A-B/SIZE
		i := strings.LastIndexByte(cr, '/')
		size, err := strconv.ParseInt(cr[i+1:], 10, 64)
		if i < 0 || err != nil {
			resp.Body.Close()
			return fmt.Errorf("bad Content-Range %q", cr)
		}
		s.size = size
	case http.StatusOK:
		if off != 0 {
			resp.Body.Close()
			return errors.New("server ignores Range")
		}
		s.size = resp.ContentLength
	default:
		resp.Body.Close()
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	s.body, s.pos = resp.Body, off
	return nil
}

func (s *httpSource) ReadContext(ctx context.Context, p []byte) (int, error) {
	if s.body == nil {
		if s.pos >= s.size {
			return 0, io.EOF
		}
		if err := s.request(ctx, s.pos); err != nil {
			return 0, err
		}
	}
	n, err := s.body.Read(p)
	s.pos += int64(n)
	return n, err
}

func (s *httpSource) Seek(off int64, whence int) (int64, error) {
	if whence != io.SeekStart || off < 0 {
		return 0, errors.New("only absolute seeks")
	}
	if off != s.pos && s.body != nil {
		s.body.Close()
		s.body = nil
	}
	s.pos = off
	return off, nil
}

func (s *httpSource) Close() error {
	if s.body != nil {
		return s.body.Close()
	}
	return nil
}

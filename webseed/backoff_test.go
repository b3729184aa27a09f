package webseed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeServer is an in-memory server for a seed under synctest: it answers
// range requests for data with the status set, or blocks as told.
type fakeServer struct {
	data       []byte
	status     atomic.Int32 // 206 serves the range
	retryAfter atomic.Value // string
	calls      atomic.Int32
	hold       chan struct{} // when not nil, requests wait for it to close
}

func (f *fakeServer) RoundTrip(r *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	h := http.Header{}
	code := int(f.status.Load())
	if code != http.StatusPartialContent {
		if ra, _ := f.retryAfter.Load().(string); ra != "" {
			h.Set("Retry-After", ra)
		}
		return &http.Response{StatusCode: code, Header: h, Body: http.NoBody, Request: r}, nil
	}
	var a, b int64
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b); err != nil {
		return nil, err
	}
	h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, len(f.data)))
	return &http.Response{StatusCode: code, Header: h, ContentLength: b - a + 1,
		Body: io.NopCloser(io.NewSectionReader(bytesReaderAt(f.data), a, b-a+1)), Request: r}, nil
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestBackoffExact: consecutive failures back off 1, 2, 4, 8 s, then the
// cap (10 s); not one request goes out meanwhile; a success resets the
// run; Retry-After lengthens a backoff within the cap.
func TestBackoffExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mi, data := makeTorrent(t, t.TempDir(), "f.bin", 16<<10, tfile{data: randomData(7, 100000)})
		fs := &fakeServer{data: data}
		fs.status.Store(503)
		s, err := New(&mi.Info, "http://127.0.0.1/f.bin", Config{Transport: fs, BackoffMin: time.Second, BackoffMax: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fetch := func() error {
			_, err := s.Fetch(context.Background(), 0, blocksFor(100), nil)
			return err
		}
		// failAndWait fails once and checks the backoff lasts exactly d.
		failAndWait := func(d time.Duration) {
			t.Helper()
			calls := fs.calls.Load()
			if err := fetch(); !errors.Is(err, ErrStatus) {
				t.Fatalf("want a status error, got %v", err)
			}
			now := time.Now()
			if st := s.Stats(); st.State != BackingOff || !st.RetryAt.Equal(now.Add(d)) {
				t.Fatalf("backoff until %v, want %v (%+v)", st.RetryAt.Sub(now), d, st)
			}
			time.Sleep(d - time.Nanosecond)
			var be *BackoffError
			if err := fetch(); !errors.As(err, &be) || !be.Until.Equal(now.Add(d)) {
				t.Fatalf("1 ns before the end: %v", err)
			}
			if fs.calls.Load() != calls+1 {
				t.Fatalf("%d requests during the backoff", fs.calls.Load()-calls-1)
			}
			time.Sleep(time.Nanosecond)
			if st := s.Stats(); st.State != Active {
				t.Fatalf("at the end of the backoff: %+v", st)
			}
		}
		for _, d := range []time.Duration{1, 2, 4, 8, 10, 10} {
			failAndWait(d * time.Second)
		}
		if st := s.Stats(); st.Failures != 6 || st.Errors != 6 {
			t.Fatalf("%+v", st)
		}
		fs.status.Store(206)
		if err := fetch(); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Failures != 0 {
			t.Fatalf("a success left %d failures", st.Failures)
		}
		fs.status.Store(503)
		failAndWait(time.Second)
		fs.retryAfter.Store("7")
		failAndWait(7 * time.Second) // 2 s by the doubling, 7 asked
		fs.retryAfter.Store("3600")
		failAndWait(10 * time.Second) // capped
		fs.status.Store(429)
		fs.retryAfter.Store(time.Now().Add(5 * time.Second).UTC().Format(http.TimeFormat))
		failAndWait(8 * time.Second) // the doubling (8 s) is past the 5 s asked
	})
}

// TestBackoffOncePerBurst: requests in flight together that fail together
// are one failure, not four.
func TestBackoffOncePerBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mi, data := makeTorrent(t, t.TempDir(), "f.bin", 16<<10, tfile{data: randomData(7, 100000)})
		fs := &fakeServer{data: data, hold: make(chan struct{})}
		fs.status.Store(502)
		s, err := New(&mi.Info, "http://127.0.0.1/f.bin", Config{Transport: fs, BackoffMin: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				if _, err := s.FetchPieces(context.Background(), i, 1, blocksFor(16<<10), nil); !errors.Is(err, ErrStatus) {
					t.Errorf("piece %d: %v", i, err)
				}
			})
		}
		synctest.Wait()
		if st := s.Stats(); st.InFlight != 4 {
			t.Fatalf("%d in flight", st.InFlight)
		}
		close(fs.hold)
		wg.Wait()
		if st := s.Stats(); st.Failures != 1 || st.Errors != 4 || !st.RetryAt.Equal(time.Now().Add(time.Second)) {
			t.Fatalf("%+v", st)
		}
	})
}

// TestTimeoutExact: no headers within Timeout, or no further buffer of the
// body within Timeout, fails the request at exactly that moment; a body
// that keeps coming, however slowly, does not.
func TestTimeoutExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mi, data := makeTorrent(t, t.TempDir(), "f.bin", 16<<10, tfile{data: randomData(8, 100000)})
		const timeout = 7 * time.Second

		// No headers.
		fs := &fakeServer{data: data, hold: make(chan struct{})}
		s, err := New(&mi.Info, "http://127.0.0.1/f.bin", Config{Transport: fs, Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := s.Fetch(context.Background(), 0, blocksFor(100), nil); !errors.Is(err, ErrTimeout) {
			t.Fatalf("%v", err)
		}
		if d := time.Since(start); d != timeout {
			t.Fatalf("timed out after %v, want %v", d, timeout)
		}
		if st := s.Stats(); st.State != BackingOff {
			t.Fatalf("%+v", st)
		}
		s.Close()

		// Headers, one block, then nothing; or a block every timeout-1ns.
		for _, gap := range []time.Duration{time.Hour, timeout - time.Nanosecond} {
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				h := http.Header{}
				h.Set("Content-Range", "bytes 0-49151/100000")
				return &http.Response{StatusCode: 206, Header: h, ContentLength: 48 << 10, Request: r,
					Body: &dripBody{ctx: r.Context(), data: data[:48<<10], gap: gap}}, nil
			})
			s, err := New(&mi.Info, "http://127.0.0.1/f.bin", Config{Transport: rt, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			var filled []int
			start := time.Now()
			n, err := s.Fetch(context.Background(), 0, blocksFor(48<<10), func(i int) { filled = append(filled, i) })
			d := time.Since(start)
			if gap == time.Hour {
				if !errors.Is(err, ErrTimeout) || d != timeout || n != 16<<10 || len(filled) != 1 {
					t.Fatalf("stalled body: %v after %v, n %d, filled %v", err, d, n, filled)
				}
			} else if err != nil || d != 2*gap || n != 48<<10 || len(filled) != 3 {
				t.Fatalf("slow body: %v after %v, n %d, filled %v", err, d, n, filled)
			}
			s.Close()
		}
	})
}

// dripBody yields 16 KiB, then waits gap (or until ctx ends) before each
// further 16 KiB.
type dripBody struct {
	ctx   context.Context
	data  []byte
	gap   time.Duration
	first bool
}

func (b *dripBody) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	if b.first {
		select {
		case <-time.After(b.gap):
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		}
	}
	b.first = true
	n := copy(p[:min(len(p), 16<<10)], b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *dripBody) Close() error { return nil }

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "0": 0, "120": 2 * time.Minute, "-1": 0, "1.5": 0, "abc": 0,
		"99999999999999999999": 0, "999999999": 24 * time.Hour,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		strconv.Itoa(3600 * 48):                           24 * time.Hour,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

// TestDropWakesAll: Drop ends the Fetch in flight and the one waiting for
// a connection slot, and both say why.
func TestDropWakesAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mi, data := makeTorrent(t, t.TempDir(), "f.bin", 16<<10, tfile{data: randomData(7, 100000)})
		fs := &fakeServer{data: data, hold: make(chan struct{})}
		fs.status.Store(206)
		s, err := New(&mi.Info, "http://127.0.0.1/f.bin", Config{Transport: fs, MaxConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		errs := make(chan error, 2)
		for i := range 2 {
			go func() {
				_, err := s.FetchPieces(context.Background(), i, 1, blocksFor(16<<10), nil)
				errs <- err
			}()
		}
		synctest.Wait()
		if fs.calls.Load() != 1 || s.Stats().InFlight != 1 {
			t.Fatalf("%d requests, %d in flight", fs.calls.Load(), s.Stats().InFlight)
		}
		why := errors.New("the session stops")
		s.Drop(why)
		for range 2 {
			if err := <-errs; !errors.Is(err, ErrDropped) || !errors.Is(err, why) {
				t.Fatalf("%v", err)
			}
		}
		if st := s.Stats(); st.State != Dropped || st.Errors != 0 || st.DropReason != why || fs.calls.Load() != 1 {
			t.Fatalf("%+v", st)
		}
	})
}

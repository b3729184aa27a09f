package webseed

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/effusion-bt/effusion/metainfo"
)

func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes 5-5/*", "bytes 0-0/0", "bytes 9-1/10",
		"bytes */100", "bytes=0-1/2", "bytes 0-9223372036854775807/*", "bytes 0-99999999999999999999/1", "bytes 01-2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		first, last, size, err := parseContentRange(v)
		if err != nil {
			return
		}
		if first < 0 || last < first || size < -1 || (size >= 0 && last >= size) {
			t.Fatalf("%q: %d-%d/%d", v, first, last, size)
		}
		s := "*"
		if size >= 0 {
			s = strconv.FormatInt(size, 10)
		}
		f2, l2, s2, err := parseContentRange(fmt.Sprintf("bytes %d-%d/%s", first, last, s))
		if err != nil || f2 != first || l2 != last || s2 != size {
			t.Fatalf("%q does not round-trip: %v", v, err)
		}
	})
}

// FuzzResponse feeds Fetch any answer a server could give: whatever it
// is, Fetch returns, writes nothing past the buffers, never counts more
// bytes than asked, and succeeds only with the bytes of a well-formed
// answer (a shifted body is wrong data, which only hashing can catch).
func FuzzResponse(f *testing.F) {
	f.Add(206, "bytes 100-1099/5000", int64(1000), 100, 1000, 0, false)
	f.Add(206, "bytes 100-1099/5000", int64(-1), 100, 1000, 20, false)
	f.Add(200, "", int64(5000), 100, 1000, 0, false)
	f.Add(200, "", int64(-1), 4000, 1000, 0, true)
	f.Add(206, "bytes 100-1099/*", int64(999), 100, 1000, -10, false)
	f.Add(404, "", int64(0), 0, 10, 0, false)
	f.Add(503, "", int64(-1), 0, 10, 5, false)
	data := randomData(11, 5000)
	info := &metainfo.Info{Name: "f", PieceLength: 1 << 10, Pieces: make([][20]byte, 5),
		Files: []metainfo.File{{Path: []string{"f"}, Length: 5000}}, Length: 5000}
	f.Fuzz(func(t *testing.T, status int, contentRange string, contentLength int64, off, n, extra int, shift bool) {
		status = 100 + (status%500+500)%500
		off = (off%5000 + 5000) % 5000
		n = 1 + (n%(5000-off)+(5000-off))%(5000-off)
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{}
			if contentRange != "" {
				h.Set("Content-Range", contentRange)
			}
			lo, hi := 0, len(data)
			if status == 206 {
				lo, hi = off, off+n+extra
			}
			if shift {
				lo++
			}
			lo, hi = min(max(lo, 0), len(data)), min(max(hi, lo), len(data))
			return &http.Response{StatusCode: status, Header: h, ContentLength: contentLength, Request: r,
				Body: io.NopCloser(bytes.NewReader(data[lo:hi]))}, nil
		})
		s, err := New(info, "http://127.0.0.1/f", Config{Transport: rt, MaxSkip: 3000, MaxRedirects: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		arena := bytes.Repeat([]byte{0xab}, n+100)
		bufs := [][]byte{arena[: n/2 : n/2], arena[n/2 : n : n]}
		got, err := s.Fetch(context.Background(), int64(off), bufs, nil)
		if got < 0 || got > int64(n) || !bytes.Equal(arena[n:], bytes.Repeat([]byte{0xab}, 100)) {
			t.Fatalf("n %d of %d, guard %x", got, n, arena[n:])
		}
		st := s.Stats()
		if st.Bytes > int64(n) || st.Wasted > 3000 {
			t.Fatalf("%+v", st)
		}
		if err == nil && !shift && (got != int64(n) || !bytes.Equal(arena[:n], data[off:off+n])) {
			t.Fatalf("success with wrong bytes: status %d range %q length %d shift %v", status, contentRange, contentLength, shift)
		}
	})
}

package session

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/webseed"
	"golang.org/x/time/rate"
)

// memRanges answers range requests from memory, as a server honouring
// Range would: the fetch needs no network, so it runs in a synctest bubble.
type memRanges []byte

func (m memRanges) RoundTrip(r *http.Request) (*http.Response, error) {
	var a, b int
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b); err != nil {
		return nil, err
	}
	body := m[a : b+1]
	h := http.Header{}
	h.Set("Content-Range", "bytes "+strconv.Itoa(a)+"-"+strconv.Itoa(b)+"/"+strconv.Itoa(len(m)))
	return &http.Response{StatusCode: http.StatusPartialContent, Header: h, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: r}, nil
}

// runSink records what a run posts, and when.
type runSink struct {
	mu     sync.Mutex
	blocks []*block
	at     []time.Time
	done   chan error
}

func (s *runSink) post(e event) bool {
	switch e := e.(type) {
	case *evSeedBlock:
		s.mu.Lock()
		s.blocks = append(s.blocks, e.b)
		s.at = append(s.at, time.Now())
		s.mu.Unlock()
	case evSeedDone:
		s.done <- e.err
	}
	return true
}

// TestWebSeedRunRateLimit: a run's blocks wait for the session's download
// limiter one by one, as a peer's do: 5 blocks at 32 KiB/s with a
// one-block burst are posted 0.5 s apart (the first on the burst), and
// arrive byte-exact.
func TestWebSeedRunRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(91, 5*peerwire.BlockSize)
		mi, _ := makeTorrent(t, t.TempDir(), "r.bin", 5*peerwire.BlockSize, "", testFile{data: data})
		ws, err := webseed.New(&mi.Info, "http://127.0.0.1:1/r.bin", webseed.Config{Transport: memRanges(data)})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		env := NewEnv(EnvConfig{HashWorkers: 1})
		defer env.Close()
		f := testFacts(env, 1, int64(len(data)), int64(len(data)), nil)
		f.down.p.Store(rate.NewLimiter(32<<10, peerwire.BlockSize))
		r := &seedRun{off: 0, end: int64(len(data)), cancelled: make([]bool, 5), evs: make([]evSeedBlock, 5)}
		for i := range 5 {
			r.reqs = append(r.reqs, core.Message{Kind: core.MsgRequest, Piece: 0, Begin: uint32(i * peerwire.BlockSize), Length: peerwire.BlockSize})
		}
		s := &runSink{done: make(chan error, 1)}
		start := time.Now()
		go r.fetch(context.Background(), ws, s, f)
		if err := <-s.done; err != nil {
			t.Fatal(err)
		}
		if elapsed, want := time.Since(start), 2*time.Second; elapsed != want {
			t.Fatalf("5 blocks took %v at 32 KiB/s, want %v", elapsed, want)
		}
		var got []byte
		for i, b := range s.blocks {
			if at, want := s.at[i].Sub(start), time.Duration(i)*500*time.Millisecond; at != want {
				t.Fatalf("block %d posted at %v, want %v", i, at, want)
			}
			if b.index != 0 || b.begin != uint32(i*peerwire.BlockSize) {
				t.Fatalf("block %d at %d/%d", i, b.index, b.begin)
			}
			got = append(got, b.bytes()...)
			env.blocks.put(b)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("the blocks differ from the data")
		}
	})
}

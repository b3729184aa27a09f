package webseed

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/metainfo"
)

// The tests in this file drive seeds with the real core exactly as doc.go
// tells the session to: a minimal single-goroutine shell, so that the
// mapping of Fetch results to core events is proven, not just described.

// shellSeed is the shell's state for one web seed.
type shellSeed struct {
	ws       *Seed
	id       core.PeerID
	pending  []core.Message // requested blocks not yet in a run
	inflight int            // runs in flight
	choked   bool           // backing off: no runs started
	gone     bool
}

type shellRun struct {
	seed      *shellSeed
	id        core.PeerID // the seed's PeerID when the run started
	reqs      []core.Message
	delivered int
}

type blockEv struct {
	run *shellRun
	i   int
	buf []byte
}

type runDoneEv struct {
	run *shellRun
	err error
}

type unchokeEv struct{ seed *shellSeed }

const maxRunBlocks = 256 // 4 MiB

// shellResult is what a shell run ends with.
type shellResult struct {
	complete bool
	data     []byte
}

// runShell downloads mi from seeds alone, for at most limit.
func runShell(t *testing.T, mi *metainfo.MetaInfo, seeds []*Seed, limit time.Duration) shellResult {
	t.Helper()
	info := &mi.Info
	ct, err := core.New(core.Config{NumPieces: info.NumPieces(), PieceLength: info.PieceLength, TotalLength: info.Length, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	events := make(chan any, 64)
	post := func(ev any) {
		select {
		case events <- ev:
		case <-ctx.Done():
		}
	}
	pieces := make([][]byte, info.NumPieces())
	bySlot := map[int]*shellSeed{}
	register := func(s *shellSeed) {
		s.id = ct.PeerConnected(core.Caps{Fast: true, ReqQ: 1024})
		if s.ws.AllServable() {
			ct.PeerHaveAll(s.id)
		} else {
			ct.PeerBitfield(s.id, s.ws.AppendBitfield(nil))
		}
		ct.PeerUnchoke(s.id)
		s.pending = s.pending[:0]
		bySlot[s.id.Slot()] = s
	}
	var all []*shellSeed
	for _, ws := range seeds {
		s := &shellSeed{ws: ws}
		register(s)
		all = append(all, s)
	}
	lookup := func(id core.PeerID) *shellSeed {
		if s := bySlot[id.Slot()]; s != nil && s.id == id && !s.gone {
			return s
		}
		return nil
	}
	reject := func(id core.PeerID, ms []core.Message) {
		for _, m := range ms {
			ct.PeerReject(id, m.Piece, m.Begin, m.Length)
		}
	}
	off := func(m core.Message) int64 { return int64(m.Piece)*info.PieceLength + int64(m.Begin) }
	start := func(s *shellSeed) {
		for !s.choked && !s.gone && s.inflight < s.ws.cfg.MaxConns && len(s.pending) > 0 {
			n := 1
			for n < len(s.pending) && n < maxRunBlocks && off(s.pending[n]) == off(s.pending[n-1])+int64(s.pending[n-1].Length) {
				n++
			}
			r := &shellRun{seed: s, id: s.id, reqs: append([]core.Message(nil), s.pending[:n]...)}
			s.pending = s.pending[n:]
			s.inflight++
			bufs := make([][]byte, n) // the session takes these from its block pool
			for i, m := range r.reqs {
				bufs[i] = make([]byte, m.Length)
			}
			wg.Go(func() {
				_, err := s.ws.Fetch(ctx, off(r.reqs[0]), bufs, func(i int) { post(blockEv{r, i, bufs[i]}) })
				post(runDoneEv{r, err})
			})
		}
	}

	t0 := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		rd := ct.Ready()
		busy := !rd.Empty()
		for _, m := range rd.Messages {
			s := lookup(m.Peer)
			if s == nil {
				continue
			}
			switch m.Kind {
			case core.MsgRequest:
				s.pending = append(s.pending, m)
			case core.MsgCancel:
				for i, p := range s.pending {
					if p.Piece == m.Piece && p.Begin == m.Begin {
						s.pending = append(s.pending[:i], s.pending[i+1:]...)
						break
					}
				}
			} // choke, unchoke, interested: nothing to send to a web seed
		}
		for _, i := range rd.Hash {
			ok := sha1.Sum(pieces[i]) == info.Pieces[i]
			ct.PieceHashed(i, ok)
		}
		for _, d := range rd.Drops {
			if s := lookup(d.Peer); s != nil {
				s.ws.Drop(ErrBadData)
				s.gone = true
				ct.PeerGone(d.Peer)
			}
		}
		if rd.Completed || ct.Complete() {
			var data []byte
			for _, p := range pieces {
				data = append(data, p...)
			}
			return shellResult{complete: true, data: data}
		}
		live := 0
		for _, s := range all {
			start(s)
			if !s.gone {
				live++
			}
		}
		if live == 0 {
			return shellResult{}
		}
		if busy {
			continue
		}
		select {
		case ev := <-events:
			switch ev := ev.(type) {
			case blockEv:
				ev.run.delivered++
				m := ev.run.reqs[ev.i]
				if ct.BlockReceived(ev.run.id, m.Piece, m.Begin, m.Length, nil) == core.BlockAccepted {
					if pieces[m.Piece] == nil {
						pieces[m.Piece] = make([]byte, info.PieceLen(int(m.Piece)))
					}
					copy(pieces[m.Piece][m.Begin:], ev.buf) // the session keeps the block instead
				}
			case runDoneEv:
				s := ev.run.seed
				s.inflight--
				if ev.err == nil {
					break
				}
				reject(ev.run.id, ev.run.reqs[ev.run.delivered:])
				if lookup(ev.run.id) == nil {
					break // the seed was re-registered or dropped meanwhile
				}
				switch {
				case errors.Is(ev.err, ErrDropped):
					s.gone = true
					ct.PeerGone(s.id)
				case errors.Is(ev.err, ErrUnavailable):
					ct.PeerGone(s.id)
					register(s)
				case s.ws.Stats().State == BackingOff:
					if !s.choked {
						s.choked = true
						ct.PeerChoke(s.id)
						reject(s.id, s.pending)
						s.pending = s.pending[:0]
						wg.Go(func() {
							select {
							case <-time.After(time.Until(s.ws.Stats().RetryAt)):
								post(unchokeEv{s})
							case <-ctx.Done():
							}
						})
					}
				}
			case unchokeEv:
				ev.seed.choked = false
				ct.PeerUnchoke(ev.seed.id)
			}
		case <-tick.C:
			ct.Tick(time.Since(t0))
		case <-deadline.C:
			t.Fatalf("not complete after %v: %+v", limit, ct.Stats())
		}
	}
}

// TestShellDownload: three seeds, one good, one without a file (404),
// one failing with 503 at first: the download completes, byte-identical;
// the 404 seed is re-registered without the pieces it lacks, the 503
// seed is choked while it backs off (and unchoked after, if the download
// still runs).
func TestShellDownload(t *testing.T) {
	root := t.TempDir()
	mi, stream := makeTorrent(t, root, "shell", 32<<10, multiFiles()...)
	fs := http.FileServer(http.Dir(root))
	good, goodRec := serve(t, fs)
	missing, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "file 04 ü.bin") {
			http.NotFound(w, r)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	var mu sync.Mutex
	failures := 3
	flaky, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fail := failures > 0
		failures--
		mu.Unlock()
		if fail {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	cfg := Config{BackoffMin: 20 * time.Millisecond, MaxConns: 2}
	seeds := []*Seed{
		newSeed(t, &mi.Info, good.URL+"/", cfg),
		newSeed(t, &mi.Info, missing.URL+"/", cfg),
		newSeed(t, &mi.Info, flaky.URL+"/", cfg),
	}
	res := runShell(t, mi, seeds, 60*time.Second)
	if !res.complete || !bytes.Equal(res.data, stream) {
		t.Fatal("download incomplete or different")
	}
	if paths, _, _ := goodRec.snapshot(); len(paths) == 0 {
		t.Fatal("the good seed served nothing")
	}
	for i, s := range seeds {
		t.Logf("seed %d: %+v", i, s.Stats())
	}
}

// TestShellBadSeed: a seed whose every body is corrupt is dropped the way
// the core drops a peer (sole contributor of a failed piece: Drop with
// Ban), and the shell is left without sources.
func TestShellBadSeed(t *testing.T) {
	root := t.TempDir()
	mi, _ := makeTorrent(t, root, "bad.bin", 16<<10, tfile{data: randomData(3, 200000)})
	fs := http.FileServer(http.Dir(root))
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.ServeHTTP(&flipper{ResponseWriter: w}, r)
	}))
	s := newSeed(t, &mi.Info, srv.URL+"/bad.bin", Config{})
	if res := runShell(t, mi, []*Seed{s}, 30*time.Second); res.complete {
		t.Fatal("completed from corrupt data")
	}
	if st := s.Stats(); st.State != Dropped || !errors.Is(st.DropReason, ErrBadData) {
		t.Fatalf("%+v", st)
	}
}

package webseed

import (
	"bytes"
	"context"
	"crypto/sha1"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/metainfo"
)

// tfile is one file of a test torrent: its path under the torrent's name
// ('/'-separated) and its data, or a BEP 47 padding file of pad bytes.
type tfile struct {
	path string
	data []byte
	pad  int
}

func randomData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// makeTorrent writes the files under root (root/name for a single file,
// root/name/path... for several) and returns the parsed torrent and the
// torrent's whole byte stream (padding as zeros). A single tfile without a
// path makes a single-file torrent.
func makeTorrent(t testing.TB, root, name string, pieceLen int64, files ...tfile) (*metainfo.MetaInfo, []byte) {
	t.Helper()
	var stream []byte
	type fileDict struct {
		Attr   string   `bencode:"attr,omitempty"`
		Length int64    `bencode:"length"`
		Path   []string `bencode:"path"`
	}
	var fds []fileDict
	single := len(files) == 1 && files[0].path == ""
	for _, f := range files {
		if f.pad > 0 {
			stream = append(stream, make([]byte, f.pad)...)
			fds = append(fds, fileDict{Attr: "p", Length: int64(f.pad), Path: []string{".pad", "x"}})
			continue
		}
		stream = append(stream, f.data...)
		p := filepath.Join(root, name)
		if !single {
			p = filepath.Join(p, filepath.FromSlash(f.path))
			fds = append(fds, fileDict{Length: int64(len(f.data)), Path: strings.Split(f.path, "/")})
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var pieces []byte
	for off := 0; off < len(stream); off += int(pieceLen) {
		h := sha1.Sum(stream[off:min(off+int(pieceLen), len(stream))])
		pieces = append(pieces, h[:]...)
	}
	info := map[string]any{"name": name, "piece length": pieceLen, "pieces": string(pieces)}
	if single {
		info["length"] = int64(len(stream))
	} else {
		info["files"] = fds
	}
	tb, err := bencode.Marshal(map[string]any{"info": info})
	if err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Parse(tb)
	if err != nil {
		t.Fatal(err)
	}
	return mi, stream
}

// recorder serves a directory like http.FileServer and records the paths
// asked for, the most requests seen at once and the connections opened.
type recorder struct {
	h        http.Handler
	mu       sync.Mutex
	paths    []string
	inFlight int
	maxIn    int
	conns    int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.paths = append(r.paths, req.URL.Path)
	r.inFlight++
	r.maxIn = max(r.maxIn, r.inFlight)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inFlight--
		r.mu.Unlock()
	}()
	r.h.ServeHTTP(w, req)
}

func (r *recorder) snapshot() (paths []string, maxIn, conns int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...), r.maxIn, r.conns
}

// serve starts a loopback server for h, closed at the test's end; the
// recorder counts its connections.
func serve(t testing.TB, h http.Handler) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{h: h}
	srv := httptest.NewUnstartedServer(rec)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			rec.mu.Lock()
			rec.conns++
			rec.mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, rec
}

// newSeed makes a seed closed at the test's end.
func newSeed(t testing.TB, info *metainfo.Info, url string, cfg Config) *Seed {
	t.Helper()
	s, err := New(info, url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// blocksFor cuts n bytes into 16 KiB blocks (the last one shorter).
func blocksFor(n int64) [][]byte {
	var bufs [][]byte
	for n > 0 {
		k := min(n, 16<<10)
		bufs = append(bufs, make([]byte, k))
		n -= k
	}
	return bufs
}

// fetchPiece fetches piece i as 16 KiB blocks and checks its hash.
func fetchPiece(t testing.TB, s *Seed, mi *metainfo.MetaInfo, i int) []byte {
	t.Helper()
	bufs := blocksFor(mi.Info.PieceLen(i))
	if _, err := s.FetchPieces(context.Background(), i, 1, bufs, nil); err != nil {
		t.Fatalf("piece %d: %v", i, err)
	}
	b := bytes.Join(bufs, nil)
	if sha1.Sum(b) != mi.Info.Pieces[i] {
		t.Fatalf("piece %d: hash mismatch", i)
	}
	return b
}

// fetchEvery fetches every piece and compares the whole with want.
func fetchEvery(t testing.TB, s *Seed, mi *metainfo.MetaInfo, want []byte) {
	t.Helper()
	var got []byte
	for i := range mi.Info.NumPieces() {
		got = append(got, fetchPiece(t, s, mi, i)...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the fetched torrent differs from its files")
	}
}

package webseed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/effusion-bt/effusion/metainfo"
)

func TestURLLayout(t *testing.T) {
	root := t.TempDir()
	single, _ := makeTorrent(t, root, "a file.iso", 16<<10, tfile{data: []byte("x")})
	multi, _ := makeTorrent(t, root, "Album ü", 16<<10,
		tfile{path: "CD 1/01 – Café.flac", data: []byte("a")},
		tfile{path: "a?b#c%d;e.txt", data: []byte("b")},
		tfile{path: "日本/ファイル", data: []byte("c")},
	)
	cases := []struct {
		info *metainfo.Info
		url  string
		want []string
	}{
		{&single.Info, "http://h/dl/a%20file.iso", []string{"http://h/dl/a%20file.iso"}},
		{&single.Info, "http://h/dl/other.bin?token=1", []string{"http://h/dl/other.bin?token=1"}},
		{&single.Info, "http://h/dl/", []string{"http://h/dl/a%20file.iso"}},
		{&single.Info, "https://h:8443/?k=v#frag", []string{"https://h:8443/a%20file.iso?k=v"}},
		{&multi.Info, "http://h/pub/", []string{
			"http://h/pub/Album%20%C3%BC/CD%201/01%20%E2%80%93%20Caf%C3%A9.flac",
			"http://h/pub/Album%20%C3%BC/a%3Fb%23c%25d%3Be.txt",
			"http://h/pub/Album%20%C3%BC/%E6%97%A5%E6%9C%AC/%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB",
		}},
		{&multi.Info, "http://h/pub", []string{ // a '/' is added for a directory
			"http://h/pub/Album%20%C3%BC/CD%201/01%20%E2%80%93%20Caf%C3%A9.flac",
		}},
		{&multi.Info, "http://h/my%20dir/?t=1", []string{
			"http://h/my%20dir/Album%20%C3%BC/CD%201/01%20%E2%80%93%20Caf%C3%A9.flac?t=1",
		}},
	}
	for _, c := range cases {
		s := newSeed(t, c.info, c.url, Config{})
		for i, want := range c.want {
			if got := s.FileURL(i); got != want {
				t.Errorf("%s file %d: got %s, want %s", c.url, i, got, want)
			}
		}
	}
	for _, bad := range []string{"ftp://h/x", "http://", "http:///x", "http://u:p@h/x", "http://h:0/x",
		"http://h:99999/x", "udp://h:1/", "mailto:x@y", "http://h/" + strings.Repeat("a", MaxURLLen), "http://0.0.0.0/x"} {
		if _, err := New(&single.Info, bad, Config{}); err == nil {
			t.Errorf("%q accepted", bad)
		} else if !errors.Is(err, ErrBadURL) && !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestFetchSingleFile(t *testing.T) {
	root := t.TempDir()
	data := randomData(1, 1<<20+123)
	mi, stream := makeTorrent(t, root, "payload.bin", 64<<10, tfile{data: data})
	srv, rec := serve(t, http.FileServer(http.Dir(root)))
	s := newSeed(t, &mi.Info, srv.URL+"/", Config{})
	fetchEvery(t, s, mi, stream)

	// A run of pieces in one request, the last piece short.
	n := mi.Info.NumPieces()
	bufs := blocksFor(mi.Info.Length - 10*mi.Info.PieceLength)
	var order []int
	got, err := s.FetchPieces(context.Background(), 10, n-10, bufs, func(i int) { order = append(order, i) })
	if err != nil || got != mi.Info.Length-10*mi.Info.PieceLength {
		t.Fatalf("run: %d, %v", got, err)
	}
	if !bytes.Equal(bytes.Join(bufs, nil), stream[10*mi.Info.PieceLength:]) {
		t.Fatal("run differs")
	}
	if len(order) != len(bufs) || !slices.IsSorted(order) {
		t.Fatalf("filled called for %v", order)
	}
	st := s.Stats()
	if st.Bytes != 2*mi.Info.Length-10*mi.Info.PieceLength || st.Requests != int64(n+1) || st.Errors != 0 || st.State != Active {
		t.Fatalf("stats %+v", st)
	}
	paths, _, conns := rec.snapshot()
	for _, p := range paths {
		if p != "/payload.bin" {
			t.Fatalf("requested %s", p)
		}
	}
	if conns != 1 {
		t.Fatalf("%d connections for sequential fetches; keep-alive should reuse one", conns)
	}
}

// multiFiles: 20 files across 3 directories, an empty file, names with
// spaces and non-ASCII letters, files smaller and larger than a piece.
func multiFiles() []tfile {
	var fs []tfile
	dirs := []string{"docs", "media/Vidéos d'été", "src/日本語 dir"}
	for i := range 19 {
		size := []int{1, 700, 16 << 10, 40000, 100000, 5}[i%6] + i
		name := fmt.Sprintf("%s/file %02d ü.bin", dirs[i%3], i)
		fs = append(fs, tfile{path: name, data: randomData(uint64(100+i), size)})
	}
	fs = slices.Insert(fs, 7, tfile{path: "docs/empty file", data: []byte{}})
	return fs
}

func TestFetchMultiFile(t *testing.T) {
	root := t.TempDir()
	mi, stream := makeTorrent(t, root, "Tørrent dir", 32<<10, multiFiles()...)
	if len(mi.Info.Files) != 20 {
		t.Fatalf("%d files", len(mi.Info.Files))
	}
	srv, rec := serve(t, http.FileServer(http.Dir(root)))
	s := newSeed(t, &mi.Info, srv.URL+"/", Config{})
	fetchEvery(t, s, mi, stream)

	// The whole torrent in one Fetch: one request per non-empty file.
	bufs := blocksFor(mi.Info.Length)
	if n, err := s.Fetch(context.Background(), 0, bufs, nil); err != nil || n != mi.Info.Length {
		t.Fatalf("whole: %d, %v", n, err)
	}
	if !bytes.Equal(bytes.Join(bufs, nil), stream) {
		t.Fatal("whole torrent differs")
	}
	paths, _, _ := rec.snapshot()
	seen := map[string]bool{}
	for _, p := range paths {
		seen[p] = true
	}
	if len(seen) != 19 || seen["/Tørrent dir/docs/empty file"] {
		t.Fatalf("%d distinct files requested (want the 19 non-empty ones): %v", len(seen), seen)
	}
}

// TestFetchPadding: padding files are zeros and never requested.
func TestFetchPadding(t *testing.T) {
	root := t.TempDir()
	mi, stream := makeTorrent(t, root, "padded", 16<<10,
		tfile{path: "a.bin", data: randomData(1, 10000)},
		tfile{pad: 16<<10 - 10000},
		tfile{path: "b.bin", data: randomData(2, 50000)},
		tfile{pad: 5*16384 - 16384 - 50000},
		tfile{path: "c.bin", data: randomData(3, 3)},
	)
	pads := 0
	for _, f := range mi.Info.Files {
		if f.Padding {
			pads++
		}
	}
	if pads != 2 {
		t.Fatalf("%d padding files", pads)
	}
	srv, rec := serve(t, http.FileServer(http.Dir(root)))
	s := newSeed(t, &mi.Info, srv.URL, Config{})
	fetchEvery(t, s, mi, stream)
	// The buffers held garbage: the padding must be overwritten with zeros.
	bufs := blocksFor(mi.Info.Length)
	for _, b := range bufs {
		for i := range b {
			b[i] = 0xee
		}
	}
	if _, err := s.Fetch(context.Background(), 0, bufs, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.Join(bufs, nil), stream) {
		t.Fatal("padding not zeroed")
	}
	paths, _, _ := rec.snapshot()
	for _, p := range paths {
		if strings.Contains(p, ".pad") {
			t.Fatalf("padding requested: %s", p)
		}
	}
}

// TestFetchOddBuffers: buffers of any sizes, empty ones included, get the
// right bytes, and nothing is written past them.
func TestFetchOddBuffers(t *testing.T) {
	root := t.TempDir()
	mi, stream := makeTorrent(t, root, "odd", 16<<10, multiFiles()...)
	srv, _ := serve(t, http.FileServer(http.Dir(root)))
	s := newSeed(t, &mi.Info, srv.URL, Config{})
	arena := bytes.Repeat([]byte{0xab}, 70000)
	var bufs [][]byte
	for i, off := 0, 0; off < 60000; i++ {
		n := []int{0, 1, 7, 16 << 10, 3000, 0, 12345}[i%7]
		n = min(n, 60000-off)
		bufs = append(bufs, arena[off:off+n:off+n])
		off += n
	}
	var filled []int
	off := int64(12345)
	n, err := s.Fetch(context.Background(), off, bufs, func(i int) { filled = append(filled, i) })
	if err != nil || n != 60000 {
		t.Fatalf("%d, %v", n, err)
	}
	if !bytes.Equal(arena[:60000], stream[off:off+60000]) {
		t.Fatal("bytes differ")
	}
	if !bytes.Equal(arena[60000:], bytes.Repeat([]byte{0xab}, 10000)) {
		t.Fatal("written past the buffers")
	}
	if len(filled) != len(bufs) || !slices.IsSorted(filled) {
		t.Fatalf("filled %v for %d buffers", filled, len(bufs))
	}
}

func TestFetchRangeErrors(t *testing.T) {
	root := t.TempDir()
	mi, _ := makeTorrent(t, root, "x", 16<<10, tfile{data: randomData(1, 40000)})
	s := newSeed(t, &mi.Info, "http://127.0.0.1:1/", Config{})
	ctx := context.Background()
	for _, c := range []struct {
		off  int64
		bufs [][]byte
	}{{-1, blocksFor(10)}, {0, nil}, {0, [][]byte{{}}}, {39999, blocksFor(2)}, {1 << 62, blocksFor(1)}} {
		if _, err := s.Fetch(ctx, c.off, c.bufs, nil); !errors.Is(err, ErrRange) {
			t.Errorf("off %d: %v", c.off, err)
		}
	}
	if _, err := s.FetchPieces(ctx, 2, 1, blocksFor(16<<10), nil); !errors.Is(err, ErrRange) {
		t.Errorf("short last piece with a full buffer: %v", err)
	}
	if _, err := s.FetchPieces(ctx, 3, 1, blocksFor(1), nil); !errors.Is(err, ErrRange) {
		t.Errorf("piece 3 of 3: %v", err)
	}
	if st := s.Stats(); st.Errors != 0 || st.Requests != 0 || st.State != Active {
		t.Fatalf("a caller's mistake charged the seed: %+v", st)
	}
}

// TestConnectionPool: many concurrent fetches use at most MaxConns
// requests at once and keep-alive connections.
func TestConnectionPool(t *testing.T) {
	root := t.TempDir()
	mi, stream := makeTorrent(t, root, "pool.bin", 16<<10, tfile{data: randomData(9, 2<<20)})
	srv, rec := serve(t, http.FileServer(http.Dir(root)))
	for _, conns := range []int{0, 2} {
		s := newSeed(t, &mi.Info, srv.URL+"/pool.bin", Config{MaxConns: conns})
		var wg sync.WaitGroup
		errs := make(chan error, mi.Info.NumPieces())
		for i := range mi.Info.NumPieces() {
			wg.Go(func() {
				bufs := blocksFor(mi.Info.PieceLen(i))
				if _, err := s.FetchPieces(context.Background(), i, 1, bufs, nil); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(bytes.Join(bufs, nil), stream[int64(i)*mi.Info.PieceLength:][:mi.Info.PieceLen(i)]) {
					errs <- fmt.Errorf("piece %d differs", i)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		want := conns
		if want == 0 {
			want = DefaultMaxConns
		}
		_, maxIn, opened := rec.snapshot()
		if maxIn > want || opened > want {
			t.Fatalf("MaxConns %d: %d requests at once, %d connections opened", want, maxIn, opened)
		}
		s.Close()
		rec.mu.Lock()
		rec.maxIn, rec.conns = 0, 0
		rec.mu.Unlock()
	}
}

// TestCheckURL: the front ends' check refuses what New refuses for the URL
// alone, and accepts what New accepts.
func TestCheckURL(t *testing.T) {
	for _, good := range []string{"http://h/x", "https://h:8443/dir/?k=v#frag", "http://127.0.0.1:80/a%20b"} {
		if err := CheckURL(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	for _, bad := range []string{"", "ftp://h/x", "http://", "http:///x", "http://u:p@h/x", "http://h:0/x",
		"http://h:99999/x", "mailto:x@y", "http://h/" + strings.Repeat("a", MaxURLLen), "::"} {
		if err := CheckURL(bad); !errors.Is(err, ErrBadURL) {
			t.Errorf("%q: %v, want ErrBadURL", bad, err)
		}
	}
}

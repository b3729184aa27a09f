package session

import (
	"bytes"
	"context"
	"crypto/sha1"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/metainfo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testFile is one file of a generated torrent.
type testFile struct {
	path []string
	data []byte
}

// torrentDict is the bencoded shape of a .torrent we generate.
type torrentDict struct {
	Announce string             `bencode:"announce,omitempty"`
	Info     bencode.RawMessage `bencode:"info"`
}

type infoFile struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

type infoSingle struct {
	Length      int64  `bencode:"length"`
	Name        string `bencode:"name"`
	PieceLength int64  `bencode:"piece length"`
	Pieces      []byte `bencode:"pieces"`
}

type infoMulti struct {
	Files       []infoFile `bencode:"files"`
	Name        string     `bencode:"name"`
	PieceLength int64      `bencode:"piece length"`
	Pieces      []byte     `bencode:"pieces"`
}

// makeTorrent writes files under dir/name (or dir/name itself for one file
// with an empty path) and returns the parsed torrent and its encoding.
func makeTorrent(t testing.TB, dir, name string, pieceLen int64, announce string, files ...testFile) (*metainfo.MetaInfo, []byte) {
	t.Helper()
	var all []byte
	for _, f := range files {
		all = append(all, f.data...)
	}
	var pieces []byte
	for off := 0; off < len(all); off += int(pieceLen) {
		end := min(off+int(pieceLen), len(all))
		sum := sha1.Sum(all[off:end])
		pieces = append(pieces, sum[:]...)
	}
	var info any
	if len(files) == 1 && len(files[0].path) == 0 {
		info = infoSingle{Length: int64(len(all)), Name: name, PieceLength: pieceLen, Pieces: pieces}
		writeFile(t, filepath.Join(dir, name), files[0].data)
	} else {
		im := infoMulti{Name: name, PieceLength: pieceLen, Pieces: pieces}
		for _, f := range files {
			im.Files = append(im.Files, infoFile{Length: int64(len(f.data)), Path: f.path})
			writeFile(t, filepath.Join(append([]string{dir, name}, f.path...)...), f.data)
		}
		info = im
	}
	ib, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := bencode.Marshal(torrentDict{Announce: announce, Info: ib})
	if err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Parse(tb)
	if err != nil {
		t.Fatal(err)
	}
	return mi, tb
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randomData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

// samePayload fails unless every (non-padding) file of the torrent has
// the same bytes under got as under want.
func samePayload(t testing.TB, mi *metainfo.MetaInfo, want, got string) {
	t.Helper()
	for _, f := range mi.Info.Files {
		if f.Padding {
			continue
		}
		rel := filepath.Join(f.Path...)
		a, err := os.ReadFile(filepath.Join(want, rel))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs (%d vs %d bytes)", rel, len(a), len(b))
		}
	}
}

// quietLogger drops everything below warnings unless -v.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testFacts is what a peer needs of a torrent of n pieces of pieceLen
// bytes (total in all), served from store.
func testFacts(env *Env, n int, pieceLen, total int64, store blockReader) *torrentFacts {
	f := &torrentFacts{env: env, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.geo.Store(&geometry{numPieces: n, pieceLen: pieceLen, total: total, have: newAtomicBits(n), store: store})
	return f
}

// testEnv returns an environment closed at the test's cleanup.
func testEnv(t testing.TB) *Env {
	e := NewEnv(EnvConfig{})
	t.Cleanup(e.Close)
	return e
}

// startSession starts a session and stops it at cleanup.
func startSession(t testing.TB, cfg Config) *Session {
	t.Helper()
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return s
}

func awaitOrFail(t testing.TB, s *Session, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := s.Await(ctx); err != nil {
		st := s.Stats()
		t.Fatalf("await: %v (phase %v, %d/%d pieces, %d peers)", err, st.Phase, st.PiecesHave, st.PiecesTotal, st.Peers)
	}
}

func loopback(s *Session) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), s.Addr().Port())
}

package storage

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fixture is a torrent's content and layout built for a test.
type fixture struct {
	layout Layout
	data   []byte // the whole stream, padding as zeros
}

type fspec struct {
	path    string
	length  int
	padding bool
}

func newFixture(t testing.TB, pieceLen int, specs ...fspec) fixture {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(pieceLen), uint64(len(specs))))
	var fx fixture
	fx.layout.PieceLength = int64(pieceLen)
	for _, s := range specs {
		chunk := make([]byte, s.length)
		if !s.padding {
			for i := 0; i < len(chunk); i += 8 {
				v := rng.Uint64()
				for j := i; j < min(i+8, len(chunk)); j++ {
					chunk[j] = byte(v >> (8 * (j - i)))
				}
			}
		}
		fx.data = append(fx.data, chunk...)
		fx.layout.Files = append(fx.layout.Files, File{Path: splitPath(s.path), Length: int64(s.length), Padding: s.padding})
	}
	for off := 0; off < len(fx.data); off += pieceLen {
		fx.layout.Hashes = append(fx.layout.Hashes, sha1.Sum(fx.data[off:min(off+pieceLen, len(fx.data))]))
	}
	return fx
}

func splitPath(p string) []string { return strings.Split(p, "/") }

func (fx fixture) piece(i int) []byte {
	pl := int(fx.layout.PieceLength)
	return fx.data[i*pl : min((i+1)*pl, len(fx.data))]
}

func open(t testing.TB, dir string, fx fixture, opts Options) *Storage {
	t.Helper()
	s, err := OpenLayout(dir, fx.layout, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func writeAll(t testing.TB, s *Storage, fx fixture) {
	t.Helper()
	for i := range fx.layout.Hashes {
		if err := s.WritePiece(i, fx.piece(i)); err != nil {
			t.Fatalf("WritePiece(%d): %v", i, err)
		}
	}
}

// tree lists the regular files under dir with their sizes.
func tree(t testing.TB, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			st, _ := os.Stat(p)
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = st.Size()
		}
		return nil
	})
	return out
}

func TestSingleFile(t *testing.T) {
	fx := newFixture(t, 1024, fspec{path: "file.bin", length: 10*1024 + 100})
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	if s.NumPieces() != 11 || s.PieceLen(10) != 100 || s.PieceLen(0) != 1024 || s.PieceLen(11) != 0 || s.TotalLength() != int64(len(fx.data)) {
		t.Fatalf("geometry: %d pieces, last %d", s.NumPieces(), s.PieceLen(10))
	}
	writeAll(t, s, fx)
	got, err := os.ReadFile(filepath.Join(dir, "file.bin"))
	if err != nil || !bytes.Equal(got, fx.data) {
		t.Fatalf("file content differs (err %v)", err)
	}
	buf := make([]byte, 100)
	if err := s.ReadBlock(3, 500, buf); err != nil || !bytes.Equal(buf, fx.data[3*1024+500:3*1024+600]) {
		t.Fatalf("ReadBlock: %v", err)
	}
	have, err := s.Check(context.Background(), nil)
	if err != nil || !have.Complete() {
		t.Fatalf("Check after full write: %d of %d, %v", have.Count(), have.Len(), err)
	}
}

// Pieces of 1000 bytes over files of odd sizes: pieces span two and three
// files, a file sits inside one piece, an empty file and padding exist.
func multiFixture(t testing.TB) fixture {
	return newFixture(t, 1000,
		fspec{path: "t/a.bin", length: 1500},
		fspec{path: "t/sub/b.bin", length: 300},
		fspec{path: "t/empty", length: 0},
		fspec{path: "t/.pad/200", length: 200, padding: true},
		fspec{path: "t/sub/deeper/c.bin", length: 2600},
		fspec{path: "t/d.bin", length: 7},
	)
}

func TestMultiFileSpanningAndPadding(t *testing.T) {
	fx := multiFixture(t)
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	// Write in an odd order to show independence of pieces.
	for _, i := range []int{4, 0, 2, 1, 3} {
		if err := s.WritePiece(i, fx.piece(i)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int64{"t/a.bin": 1500, "t/sub/b.bin": 300, "t/empty": 0, "t/sub/deeper/c.bin": 2600, "t/d.bin": 7}
	got := tree(t, dir)
	if len(got) != len(want) {
		t.Fatalf("files on disk %v, want %v (padding must not exist)", got, want)
	}
	off := 0
	for _, f := range fx.layout.Files {
		if !f.Padding {
			b, err := os.ReadFile(filepath.Join(dir, filepath.Join(f.Path...)))
			if err != nil || !bytes.Equal(b, fx.data[off:off+int(f.Length)]) {
				t.Fatalf("%v: content differs (%v)", f.Path, err)
			}
		}
		off += int(f.Length)
	}
	// A read across a/b, padding and c.
	buf := make([]byte, 1000)
	if err := s.ReadPiece(1, buf); err != nil || !bytes.Equal(buf, fx.piece(1)) {
		t.Fatalf("ReadPiece(1) across files and padding: %v", err)
	}
	pad := make([]byte, 200)
	pad[0] = 1
	if _, err := s.ReadAt(pad, 1800); err != nil || !bytes.Equal(pad, make([]byte, 200)) {
		t.Fatalf("padding must read as zeros: %v", err)
	}
	have, err := s.Check(context.Background(), nil)
	if err != nil || !have.Complete() {
		t.Fatalf("Check: %d/%d %v", have.Count(), have.Len(), err)
	}
}

func TestLazySparseCreation(t *testing.T) {
	fx := newFixture(t, 64<<10, fspec{path: "x/first", length: 64 << 10}, fspec{path: "x/big", length: 2 << 20})
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	if got := tree(t, dir); len(got) != 0 {
		t.Fatalf("Open created files: %v", got)
	}
	if err := s.WritePiece(0, fx.piece(0)); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); len(got) != 1 || got["x/first"] != 64<<10 {
		t.Fatalf("after piece 0: %v (big must not exist yet)", got)
	}
	last := s.NumPieces() - 1
	if err := s.WritePiece(last, fx.piece(last)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "x/big"))
	if err != nil || st.Size() != 2<<20 {
		t.Fatalf("big: %v %v", st, err)
	}
	// Sparse: one 64 KiB piece written, not 2 MiB of zeros.
	if blocks := st.Sys().(*syscall.Stat_t).Blocks * 512; blocks > 512<<10 {
		t.Fatalf("big uses %d bytes on disk: zero-filled, not sparse", blocks)
	}
	// Unwritten ranges of an existing sparse file are simply missing.
	have, err := s.Check(context.Background(), nil)
	if err != nil || have.Count() != 2 || !have.Has(0) || !have.Has(last) {
		t.Fatalf("Check: %d %v", have.Count(), err)
	}
}

func TestRestartKeepsVerifiedPieces(t *testing.T) {
	fx := multiFixture(t)
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	writeAll(t, s, fx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Corrupt one byte of piece 3 (inside c.bin), and delete d.bin (the
	// tail of piece 4).
	cpath := filepath.Join(dir, "t/sub/deeper/c.bin")
	f, err := os.OpenFile(cpath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{^fx.data[3500]}, 3500-2000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Remove(filepath.Join(dir, "t/d.bin")); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dir)

	s2 := open(t, dir, fx, Options{Workers: 2})
	var calls []int
	have, err := s2.Check(context.Background(), func(done, total int) {
		if total != 5 {
			t.Errorf("progress total %d", total)
		}
		calls = append(calls, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for i := range have.Len() {
		if have.Has(i) {
			got = append(got, i)
		}
	}
	if !equalInts(got, []int{0, 1, 2}) {
		t.Fatalf("verified pieces %v, want [0 1 2]", got)
	}
	if !equalInts(calls, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("progress calls %v", calls)
	}
	if after := tree(t, dir); len(after) != len(before) {
		t.Fatalf("Check created files: %v -> %v", before, after)
	}
	// Re-downloading the bad pieces restores everything.
	for _, i := range []int{3, 4} {
		if err := s2.WritePiece(i, fx.piece(i)); err != nil {
			t.Fatal(err)
		}
	}
	if have, err := s2.Check(context.Background(), nil); err != nil || !have.Complete() {
		t.Fatalf("after repair: %d %v", have.Count(), err)
	}
}

func TestCheckEmptyDirCreatesNothing(t *testing.T) {
	fx := multiFixture(t)
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	have, err := s.Check(context.Background(), nil)
	if err != nil || have.Count() != 0 || have.Len() != 5 {
		t.Fatalf("Check on nothing: %d/%d %v", have.Count(), have.Len(), err)
	}
	if got := tree(t, dir); len(got) != 0 {
		t.Fatalf("Check created %v", got)
	}
	if err := s.ReadBlock(0, 0, make([]byte, 10)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadBlock of a missing file: %v", err)
	}
}

func TestCheckCancel(t *testing.T) {
	fx := newFixture(t, 1024, fspec{path: "f", length: 64 << 10})
	s := open(t, t.TempDir(), fx, Options{})
	writeAll(t, s, fx)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := s.Check(ctx, func(done, total int) {
		if done == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Check after cancel: %v", err)
	}
}

func equalInts(a, b []int) bool {
	sort.Ints(a)
	return len(a) == len(b) && (len(a) == 0 || bytes.Equal(intBytes(a), intBytes(b)))
}

func intBytes(a []int) []byte {
	b := make([]byte, len(a))
	for i, v := range a {
		b[i] = byte(v)
	}
	return b
}

func TestRangeErrors(t *testing.T) {
	fx := newFixture(t, 1000, fspec{path: "f", length: 2500})
	s := open(t, t.TempDir(), fx, Options{})
	cases := []error{
		s.WritePiece(0, make([]byte, 999)),
		s.WritePiece(2, make([]byte, 1000)), // last piece is 500
		s.WritePiece(3, make([]byte, 500)),
		s.WritePiece(-1, nil),
		s.ReadBlock(2, 400, make([]byte, 101)),
		s.ReadBlock(0, -1, make([]byte, 1)),
		s.ReadPiece(1, make([]byte, 10)),
	}
	for i, err := range cases {
		if !errors.Is(err, ErrRange) {
			t.Errorf("case %d: %v, want ErrRange", i, err)
		}
	}
	if _, err := s.WriteAt(make([]byte, 10), 2495); !errors.Is(err, ErrRange) {
		t.Errorf("WriteAt past end: %v", err)
	}
	if _, err := s.ReadAt(make([]byte, 10), -5); !errors.Is(err, ErrRange) {
		t.Errorf("ReadAt before start: %v", err)
	}
}

func TestBadLayouts(t *testing.T) {
	h := [][20]byte{{}}
	cases := []Layout{
		{PieceLength: 0, Files: []File{{Path: []string{"a"}, Length: 1}}, Hashes: h},
		{PieceLength: 10, Hashes: h},
		{PieceLength: 10, Files: []File{{Path: []string{"a"}, Length: -1}}, Hashes: h},
		{PieceLength: 10, Files: []File{{Path: []string{"a"}, Length: 11}}, Hashes: h},
		{PieceLength: 10, Files: []File{{Path: []string{".."}, Length: 1}}, Hashes: h},
		{PieceLength: 10, Files: []File{{Path: []string{"a", "..", "b"}, Length: 1}}, Hashes: h},
		{PieceLength: 10, Files: []File{{Path: []string{"a/b"}, Length: 1}}, Hashes: h},
		{PieceLength: 10, Files: []File{{Path: []string{""}, Length: 1}}, Hashes: h},
		{PieceLength: 10, Files: []File{{Path: nil, Length: 1}}, Hashes: h},
		{PieceLength: 10, Files: []File{{Path: []string{"a"}, Length: 1}, {Path: []string{"a"}, Length: 1}}, Hashes: h},
		{PieceLength: 10, Files: []File{{Path: []string{"a"}, Length: 1}, {Path: []string{"a", "b"}, Length: 1}}, Hashes: h},
	}
	for i, l := range cases {
		if _, err := OpenLayout(t.TempDir(), l, Options{}); !errors.Is(err, ErrLayout) {
			t.Errorf("case %d: %v, want ErrLayout", i, err)
		}
	}
}

// A directory inside the download root that is a symlink to somewhere
// outside must not be written through, nor read through.
func TestSymlinkEscapeRefused(t *testing.T) {
	fx := newFixture(t, 100, fspec{path: "t/evil/f", length: 100})
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "t"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "t/evil")); err != nil {
		t.Fatal(err)
	}
	// Also a relative link climbing out.
	if err := os.Symlink("../../"+filepath.Base(outside), filepath.Join(dir, "t/rel")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(outside, "f"), fx.data, 0o644) // readable bait
	s := open(t, dir, fx, Options{})
	if err := s.WritePiece(0, fx.piece(0)); err == nil {
		t.Fatal("write through a symlink leading outside the root succeeded")
	}
	have, err := s.Check(context.Background(), nil)
	if err == nil && have.Count() != 0 {
		t.Fatal("Check verified data read from outside the root")
	}
	if err := s.ReadBlock(0, 0, make([]byte, 10)); err == nil {
		t.Fatal("read through a symlink leading outside the root succeeded")
	}
	fx2 := newFixture(t, 100, fspec{path: "t/rel/g", length: 100})
	s2 := open(t, dir, fx2, Options{})
	if err := s2.WritePiece(0, fx2.piece(0)); err == nil {
		t.Fatal("write through a relative symlink leading outside succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "g")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a file appeared outside the root: %v", err)
	}
	// A symlink that stays inside the root is fine.
	if err := os.Symlink("t", filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	fx3 := newFixture(t, 100, fspec{path: "alias/ok", length: 100})
	s3 := open(t, dir, fx3, Options{})
	if err := s3.WritePiece(0, fx3.piece(0)); err != nil {
		t.Fatalf("symlink inside the root: %v", err)
	}
}

func TestFileCacheBound(t *testing.T) {
	var specs []fspec
	for i := range 12 {
		specs = append(specs, fspec{path: "d/f" + string(rune('a'+i)), length: 700})
	}
	fx := newFixture(t, 1000, specs...)
	dir := t.TempDir()
	s := open(t, dir, fx, Options{MaxOpenFiles: 3, Workers: 2})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < s.NumPieces(); i += 4 {
				if err := s.WritePiece(i, fx.piece(i)); err != nil {
					t.Error(err)
				}
				buf := make([]byte, s.PieceLen(i))
				if err := s.ReadPiece(i, buf); err != nil || !bytes.Equal(buf, fx.piece(i)) {
					t.Errorf("read back %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	if have, err := s.Check(context.Background(), nil); err != nil || !have.Complete() {
		t.Fatalf("Check: %v", err)
	}
	open, opens, peak := s.fc.stats()
	if peak > 3 || open > 3 {
		t.Fatalf("peak open files %d (now %d), bound 3", peak, open)
	}
	if opens <= 12 {
		t.Fatalf("only %d opens for 12 files with a cache of 3: eviction never happened?", opens)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
}

// TestSyncCoversEvictedFiles: neither eviction nor Close fsyncs (an fsync
// there would stall the download, or add up to a second per GiB at exit),
// yet Sync still reaches every file written since the last Sync, including
// those evicted from the cache since, and only those.
func TestSyncCoversEvictedFiles(t *testing.T) {
	var specs []fspec
	for i := range 6 {
		specs = append(specs, fspec{path: "f" + string(rune('a'+i)), length: 100})
	}
	fx := newFixture(t, 100, specs...)
	s := open(t, t.TempDir(), fx, Options{MaxOpenFiles: 2})
	var synced []string
	s.fc.fsync = func(f *os.File) error {
		synced = append(synced, filepath.Base(f.Name()))
		return nil
	}
	for _, i := range []int{0, 2, 4} { // fa, fc, fe: opening fe evicts fa
		if err := s.WritePiece(i, fx.piece(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, opens, _ := s.fc.stats(); opens != 3 {
		t.Fatalf("%d opens, want 3", opens)
	}
	if len(synced) != 0 {
		t.Fatalf("eviction fsynced %v", synced)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(synced)
	if want := []string{"fa", "fc", "fe"}; !slices.Equal(synced, want) {
		t.Fatalf("Sync fsynced %v, want %v", synced, want)
	}
	synced = nil
	if err := s.Sync(); err != nil || len(synced) != 0 {
		t.Fatalf("second Sync with nothing written: fsynced %v, err %v", synced, err)
	}
	if err := s.WritePiece(5, fx.piece(5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil || len(synced) != 0 {
		t.Fatalf("Close fsynced %v, err %v", synced, err)
	}
}

func TestReadOnlyAndClosed(t *testing.T) {
	fx := newFixture(t, 100, fspec{path: "f", length: 250})
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	writeAll(t, s, fx)
	s.Close()
	if err := s.WritePiece(0, fx.piece(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ro := open(t, dir, fx, Options{ReadOnly: true})
	if err := ro.WritePiece(0, fx.piece(0)); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write on read-only: %v", err)
	}
	if have, err := ro.Check(context.Background(), nil); err != nil || !have.Complete() {
		t.Fatalf("read-only Check: %v", err)
	}
	if _, err := OpenLayout(filepath.Join(dir, "nope"), fx.layout, Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only Open created a missing directory")
	}
}

func TestVerifyPiece(t *testing.T) {
	data := []byte("piece data")
	if !VerifyPiece(data, sha1.Sum(data)) || VerifyPiece(data[1:], sha1.Sum(data)) {
		t.Fatal("VerifyPiece")
	}
}

func TestReadCache(t *testing.T) {
	fx := newFixture(t, 1000, fspec{path: "f", length: 4500})
	s := open(t, t.TempDir(), fx, Options{})
	writeAll(t, s, fx)
	c := NewReadCache(s, 2000) // two pieces
	buf := make([]byte, 100)
	read := func(i int, begin int64) {
		t.Helper()
		if err := c.ReadBlock(i, begin, buf); err != nil || !bytes.Equal(buf, fx.piece(i)[begin:begin+100]) {
			t.Fatalf("ReadBlock(%d, %d): %v", i, begin, err)
		}
	}
	read(0, 0)
	read(0, 100)
	read(0, 900)
	read(1, 0)
	read(2, 0) // evicts 0
	read(1, 500)
	read(0, 0) // miss again
	st := c.Stats()
	if st.Hits != 3 || st.Misses != 4 || st.Pieces != 2 || st.Bytes != 2000 {
		t.Fatalf("stats %v", st)
	}
	read(4, 400) // short last piece
	if c.Stats().Bytes > 2000 {
		t.Fatalf("cache over its bound: %v", c.Stats())
	}
	c.Invalidate(4)
	if err := c.ReadBlock(4, 450, buf); !errors.Is(err, ErrRange) {
		t.Fatalf("block past the last piece's end: %v", err)
	}
	big := NewReadCache(s, 10) // pieces bigger than the cache bypass it
	if err := big.ReadBlock(1, 0, buf); err != nil || big.Stats().Pieces != 0 {
		t.Fatalf("bypass: %v %v", err, big.Stats())
	}
}

// Check hashes on several goroutines at once: the first two pieces are
// only released once two workers are inside Check together.
func TestCheckUsesWorkersInParallel(t *testing.T) {
	fx := newFixture(t, 1024, fspec{path: "f", length: 16 << 10})
	s := open(t, t.TempDir(), fx, Options{Workers: 2})
	writeAll(t, s, fx)
	var mu sync.Mutex
	arrived := 0
	both := make(chan struct{})
	s.onHash = func() {
		mu.Lock()
		arrived++
		if arrived == 2 {
			close(both)
		}
		mu.Unlock()
		select {
		case <-both:
		case <-time.After(10 * time.Second): // a guard against deadlock, not a timing
			t.Error("only one Check worker ran")
		}
	}
	have, err := s.Check(context.Background(), nil)
	if err != nil || !have.Complete() {
		t.Fatalf("Check: %v", err)
	}
}

// Uploaders on several goroutines share one cache: every block is right
// and the bound holds (run under -race).
func TestReadCacheConcurrent(t *testing.T) {
	fx := newFixture(t, 1024, fspec{path: "f", length: 20 * 1024})
	s := open(t, t.TempDir(), fx, Options{})
	writeAll(t, s, fx)
	c := NewReadCache(s, 3*1024)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256)
			for k := range 200 {
				i := (k*7 + g) % s.NumPieces()
				begin := int64((k % 4) * 256)
				if err := c.ReadBlock(i, begin, buf); err != nil || !bytes.Equal(buf, fx.piece(i)[begin:begin+256]) {
					t.Errorf("piece %d at %d: %v", i, begin, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st := c.Stats(); st.Bytes > 3*1024 || st.Hits+st.Misses != 800 {
		t.Fatalf("stats %v", st)
	}
}

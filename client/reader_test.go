package client

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/metainfo"
)

// oddFixture is a multi-file torrent whose piece length (40,000 bytes) is
// neither a power of two nor a multiple of the 16 KiB block, with files of
// odd sizes (an empty one among them), so that pieces, blocks and files
// straddle one another everywhere.
func oddFixture(t testing.TB, sizes ...int) (fixture, [][]byte) {
	t.Helper()
	const pieceLen = 40_000
	fx := fixture{dir: t.TempDir(), files: map[string][]byte{}}
	type file struct {
		Length int64    `bencode:"length"`
		Path   []string `bencode:"path"`
	}
	var files []file
	var all []byte
	var datas [][]byte
	for i, n := range sizes {
		b := make([]byte, n)
		r := rand.New(rand.NewPCG(uint64(i), uint64(n)))
		for k := range b {
			b[k] = byte(r.Uint32())
		}
		name := filepath.Join("d", string(rune('a'+i))+".bin")
		fx.files[name] = b
		p := filepath.Join(fx.dir, "payload", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, file{Length: int64(n), Path: []string{"d", string(rune('a'+i)) + ".bin"}})
		all = append(all, b...)
		datas = append(datas, b)
	}
	var pieces []byte
	for off := 0; off < len(all); off += pieceLen {
		sum := sha1.Sum(all[off:min(off+pieceLen, len(all))])
		pieces = append(pieces, sum[:]...)
	}
	info, err := bencode.Marshal(struct {
		Files       []file `bencode:"files"`
		Name        string `bencode:"name"`
		PieceLength int64  `bencode:"piece length"`
		Pieces      []byte `bencode:"pieces"`
	}{files, "payload", pieceLen, pieces})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := bencode.Marshal(struct {
		Info bencode.RawMessage `bencode:"info"`
	}{info})
	if err != nil {
		t.Fatal(err)
	}
	if fx.mi, err = metainfo.Parse(tb); err != nil {
		t.Fatal(err)
	}
	return fx, datas
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// exercise reads want through r with random read sizes and seeks (from
// the start, the current position and the end), checking every byte, and
// ends by reading to the end.
func exercise(ctx context.Context, r *Reader, want []byte, seed uint64) error {
	rnd := rand.New(rand.NewPCG(seed, 7))
	size := int64(len(want))
	pos := int64(0)
	buf := make([]byte, 100_000)
	for step := 0; step < 60; step++ {
		switch rnd.IntN(4) {
		case 0:
			to := rnd.Int64N(size + 1)
			got, err := r.Seek(to, io.SeekStart)
			if err != nil || got != to {
				return fmt.Errorf("seek start %d: %d, %v", to, got, err)
			}
			pos = to
		case 1:
			d := rnd.Int64N(size+1) - pos
			got, err := r.Seek(d, io.SeekCurrent)
			if err != nil || got != pos+d {
				return fmt.Errorf("seek current %d from %d: %d, %v", d, pos, got, err)
			}
			pos += d
		case 2:
			d := -rnd.Int64N(size + 1)
			got, err := r.Seek(d, io.SeekEnd)
			if err != nil || got != size+d {
				return fmt.Errorf("seek end %d: %d, %v", d, got, err)
			}
			pos = size + d
		}
		p := buf[:1+rnd.IntN(len(buf))]
		n, err := r.ReadContext(ctx, p)
		if pos == size {
			if n != 0 || err != io.EOF {
				return fmt.Errorf("read at the end: %d, %v", n, err)
			}
			continue
		}
		if err != nil || n == 0 {
			return fmt.Errorf("read %d at %d: %d, %v", len(p), pos, n, err)
		}
		if !bytes.Equal(p[:n], want[pos:pos+int64(n)]) {
			return fmt.Errorf("read %d at %d: the bytes differ", n, pos)
		}
		pos += int64(n)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return err
	}
	got, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading it all: %w", err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("read in full: %d bytes, not the payload's %d", len(got), len(want))
	}
	return nil
}

// TestReaderExact: several readers at once (each file, and the whole
// torrent), each with random reads and seeks, get the payload's bytes
// exactly while the torrent downloads, across piece, block and file
// boundaries.
func TestReaderExact(t *testing.T) {
	fx, datas := oddFixture(t, 333_333, 0, 7, 250_001, 100_003)
	sd := seeder(t, fx)
	// A slow download (a few seconds), so that most reads wait.
	c, err := New(context.Background(), Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: quiet(), DownloadRate: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 60*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, len(datas)+1)
	for i := range datas {
		r, err := tt.NewReader(i)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := exercise(ctx, r, datas[i], uint64(i)); err != nil {
				errs <- fmt.Errorf("file %d: %w", i, err)
			}
		}()
	}
	whole, err := tt.NewTorrentReader()
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := exercise(ctx, whole, bytes.Join(datas, nil), 99); err != nil {
			errs <- fmt.Errorf("whole torrent: %w", err)
		}
	}()
	time.Sleep(50 * time.Millisecond) // the readers wait: the peer comes late
	tt.AddPeers(sd.Addr())
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := tt.NewReader(len(datas)); err == nil {
		t.Error("a reader of a file beyond the last")
	}
	if err := whole.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := whole.Read(make([]byte, 1)); !errors.Is(err, ErrReaderClosed) {
		t.Fatalf("read after Close: %v", err)
	}
}

// TestReaderCancel: a read that waits ends with ctx's error when ctx ends,
// and with ErrReaderClosed when another goroutine closes the reader.
func TestReaderCancel(t *testing.T) {
	fx := newFixture(t, 100_000)
	c := newClient(t, t.TempDir())
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := tt.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.ReadContext(ctx, make([]byte, 10)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrReaderClosed) {
			t.Fatalf("read ended by Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the read")
	}
}

// TestReaderSkippedFile: reading a skipped file fetches what is read (and
// its readahead), not the whole file, and does not create it; the other
// file downloads as usual.
func TestReaderSkippedFile(t *testing.T) {
	fx := newFixture(t, 100_000, 1_000_000)
	sd := seeder(t, fx)
	dl := t.TempDir()
	c := newClient(t, t.TempDir())
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: dl, Priorities: []Priority{Normal, Skip}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := tt.NewReader(1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetReadahead(64 << 10)
	tt.AddPeers(sd.Addr())
	await(t, tt)
	want := fx.files[filepath.Join("d", "b.bin")]
	const at, n = 400_000, 100_000
	if _, err := r.Seek(at, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, n)
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want[at:at+n]) {
		t.Fatal("the skipped file's bytes differ")
	}
	if _, err := os.Stat(filepath.Join(dl, "payload", "d", "b.bin")); !os.IsNotExist(err) {
		t.Fatalf("the skipped file was created (%v)", err)
	}
	f := tt.Files()[1]
	if f.Completed < n || f.Completed > 600_000 {
		t.Fatalf("%d bytes of the skipped file verified after reading %d of it", f.Completed, n)
	}
	sameFiles(t, fx, dl, filepath.Join("d", "b.bin"))
}

// TestReaderTorrentRemoved: a read waiting on a torrent that is removed
// ends with ErrClosed, as does a new reader; a read across Pause and
// Resume waits and goes on; a client shut down ends reads with ErrClosed.
func TestReaderTorrentRemoved(t *testing.T) {
	fx := newFixture(t, 100_000)
	c := newClient(t, t.TempDir())
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := tt.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := tt.Pause(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tt.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("the read ended across Pause and Resume: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := c.Remove(context.Background(), tt.InfoHash(), KeepData); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("read of a removed torrent: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read still waits after Remove")
	}
	if _, err := tt.NewReader(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewReader of a removed torrent: %v", err)
	}

	t2, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := t2.NewTorrentReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	go func() {
		_, err := r2.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Shutdown(context.Background())
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("read across Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read still waits after Shutdown")
	}
}

// TestReaderMagnet: a reader of a magnet's torrent, made before the
// metadata, waits for it, then reads the file exactly; seeking from the
// end before the metadata fails at once.
func TestReaderMagnet(t *testing.T) {
	fx, datas := oddFixture(t, 123_457, 300_001)
	sd := seeder(t, fx)
	c := newClient(t, t.TempDir())
	tt, err := c.Add(context.Background(), Spec{Magnet: fmt.Sprintf("%x", fx.mi.InfoHash), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := tt.NewReader(1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Seek(-10, io.SeekEnd); err == nil {
		t.Fatal("seek from the end before the metadata")
	}
	bad, err := tt.NewReader(5)
	if err != nil {
		t.Fatal(err) // unknown yet: checked at the first read
	}
	defer bad.Close()
	tt.AddPeers(sd.Addr())
	ctx := testCtx(t, 30*time.Second)
	got, err := io.ReadAll(readerCtx{ctx, r})
	if err != nil || !bytes.Equal(got, datas[1]) {
		t.Fatalf("read %d bytes of %d (%v)", len(got), len(datas[1]), err)
	}
	if _, err := bad.ReadContext(ctx, make([]byte, 1)); err == nil {
		t.Fatal("a reader of file 5 of 2 read")
	}
}

// readerCtx reads with a context.
type readerCtx struct {
	ctx context.Context
	r   *Reader
}

func (rc readerCtx) Read(p []byte) (int, error) { return rc.r.ReadContext(rc.ctx, p) }

// TestRateMeter: a reader's rate is the bytes it read over the time it did
// not wait for them, smoothed over spans of a second; a pause is not
// counted; the window's rate never goes below the core's default.
func TestRateMeter(t *testing.T) {
	var m rateMeter
	now := time.Unix(0, 0)
	last := time.Time{}
	read := func(n int, waited, gap time.Duration) {
		now = now.Add(gap + waited)
		m.add(now, n, waited, last)
		last = now
	}
	for range 3 * 64 { // 4 MiB/s: 64 KiB every 1/64 s
		read(64<<10, 0, time.Second/64)
	}
	if got := m.bps(); got < 3<<20 || got > 5<<20 {
		t.Fatalf("after 3 s at 4 MiB/s: %d B/s", got)
	}
	before := m.est
	for range 64 { // the same rate, each read waiting 10 ms for its bytes
		read(64<<10, 10*time.Millisecond, time.Second/64)
	}
	if m.est < before*0.8 {
		t.Fatalf("waits counted as reading time: %.0f then %.0f B/s", before, m.est)
	}
	read(64<<10, 0, time.Minute) // a pause, then on at the same rate
	for range 2 * 64 {
		read(64<<10, 0, time.Second/64)
	}
	if m.est < before*0.8 {
		t.Fatalf("a pause lowered the rate: %.0f then %.0f B/s", before, m.est)
	}
	var slow rateMeter
	for range 200 { // 64 KiB/s
		now = now.Add(time.Second / 64)
		slow.add(now, 1<<10, 0, now.Add(-time.Second/64))
	}
	if slow.bps() != 1<<20 {
		t.Fatalf("a slow reader's window rate %d, want the core's default", slow.bps())
	}
	if rateMoved(4<<20, 4<<20+100) || !rateMoved(4<<20, 2<<20) || !rateMoved(4<<20, 6<<20) {
		t.Fatal("rateMoved")
	}
}

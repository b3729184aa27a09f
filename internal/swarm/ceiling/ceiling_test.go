package ceiling

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"os"
	"path/filepath"
	"testing"

	"github.com/effusion-bt/effusion/storage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func payload(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunCopiesAndVerifies(t *testing.T) {
	src := payload(t, 3<<20+12345) // a short last piece
	dst := filepath.Join(t.TempDir(), "dst")
	res, err := Run(context.Background(), src, dst, 256<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	if res.BadPiece != -1 || res.Bytes != 3<<20+12345 || res.Throughput() <= 0 {
		t.Fatalf("result %+v", res)
	}
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(dst)
	if !bytes.Equal(a, b) {
		t.Fatal("copy differs")
	}
}

func TestReceiveReportsFirstBadPiece(t *testing.T) {
	data := make([]byte, 10*1024)
	rand.Read(data)
	want := make([][sha1.Size]byte, 10)
	for i := range want {
		want[i] = sha1.Sum(data[i*1024 : (i+1)*1024])
	}
	want[7][0] ^= 1
	want[3][5] ^= 1
	out, err := storage.OpenLayout(t.TempDir(), storage.Layout{
		PieceLength: 1024,
		Files:       []storage.File{{Path: []string{"out"}, Length: int64(len(data))}},
		Hashes:      want,
	}, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	bad, err := receivePieces(bytes.NewReader(data), out, want, int64(len(data)), 1024, 3)
	if err != nil || bad != 3 {
		t.Fatalf("bad piece %d, err %v; want 3, nil", bad, err)
	}
	// A stream that ends early is an error, not a bad piece.
	if _, err := receivePieces(bytes.NewReader(data[:5000]), out, want, int64(len(data)), 1024, 3); err == nil {
		t.Fatal("short stream: no error")
	}
}

func TestRunRejects(t *testing.T) {
	if _, err := Run(context.Background(), "x", "y", 0, 1); err == nil {
		t.Error("zero piece length accepted")
	}
	if _, err := Run(context.Background(), filepath.Join(t.TempDir(), "missing"), filepath.Join(t.TempDir(), "y"), 1024, 1); err == nil {
		t.Error("missing source accepted")
	}
}

// BenchmarkCeiling is the machine ceiling on a 64 MiB payload with 1 MiB
// pieces (b.SetBytes: compare its MB/s with the swarm benchmarks).
func BenchmarkCeiling(b *testing.B) {
	src := payload(b, 64<<20)
	dst := filepath.Join(b.TempDir(), "dst")
	b.SetBytes(64 << 20)
	for b.Loop() {
		if res, err := Run(context.Background(), src, dst, 1<<20, 2); err != nil || res.BadPiece >= 0 {
			b.Fatal(err, res.BadPiece)
		}
	}
}

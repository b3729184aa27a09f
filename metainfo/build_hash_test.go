package metainfo

import (
	"context"
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestBuildHashesEveryPiece: whatever the number of workers, and with
// pieces longer than a read chunk, files crossing piece boundaries and a
// short last piece, every piece hash equals crypto/sha1 over the
// concatenated files.
func TestBuildHashesEveryPiece(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	var all []byte
	for i := range 12 {
		p := filepath.Join(dir, fmt.Sprintf("f%02d", i))
		writeRandom(t, p, 20000+i*37771, uint64(50+i))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	const pl = 2 * buildChunk // two chunks a piece
	for _, workers := range []int{1, 2, 3} {
		m, _, err := Build(context.Background(), dir, BuildOptions{PieceLength: pl, Workers: workers, NoDate: true})
		if err != nil {
			t.Fatal(err)
		}
		n := m.Info.NumPieces()
		if n != (len(all)+pl-1)/pl || len(all)%pl == 0 || n < 17 {
			t.Fatalf("fixture: %d pieces for %d bytes", n, len(all))
		}
		for i := range n {
			start := int64(i) * pl
			if sha1.Sum(all[start:start+m.Info.PieceLen(i)]) != m.Info.PieceHash(i) {
				t.Fatalf("%d workers: piece %d hash wrong", workers, i)
			}
		}
	}
}

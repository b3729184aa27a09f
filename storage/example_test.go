package storage_test

import (
	"context"
	"crypto/sha1"
	"fmt"
	"os"

	"github.com/effusion-bt/effusion/storage"
)

// Write verified pieces, then find them again on a restart with Check.
func ExampleStorage() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	data := []byte("0123456789abcdefghij") // the torrent's bytes: two files, pieces of 8
	layout := storage.Layout{
		PieceLength: 8,
		Files: []storage.File{
			{Path: []string{"t", "a.txt"}, Length: 12},
			{Path: []string{"t", "b.txt"}, Length: 8},
		},
	}
	for off := 0; off < len(data); off += 8 {
		layout.Hashes = append(layout.Hashes, sha1.Sum(data[off:min(off+8, len(data))]))
	}

	s, err := storage.OpenLayout(dir, layout, storage.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	piece1 := data[8:16] // spans a.txt and b.txt
	if storage.VerifyPiece(piece1, layout.Hashes[1]) {
		fmt.Println("write:", s.WritePiece(1, piece1))
	}
	s.Close()

	s, _ = storage.OpenLayout(dir, layout, storage.Options{})
	defer s.Close()
	have, _ := s.Check(context.Background(), nil)
	fmt.Println("have:", have.Has(0), have.Has(1), have.Has(2))
	// Output:
	// write: <nil>
	// have: false true false
}

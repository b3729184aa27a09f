package bencode

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"syscall"
	"testing"
	"time"

	anacrolix "github.com/anacrolix/torrent/bencode"
)

// benchTorrent has the shape of a .torrent; both decoders read the same
// struct tags.
type benchTorrent struct {
	Announce     string     `bencode:"announce"`
	AnnounceList [][]string `bencode:"announce-list,omitempty"`
	Comment      string     `bencode:"comment,omitempty"`
	CreatedBy    string     `bencode:"created by,omitempty"`
	CreationDate int64      `bencode:"creation date,omitempty"`
	Info         benchInfo  `bencode:"info"`
	URLList      []string   `bencode:"url-list,omitempty"`
}

type benchInfo struct {
	Files       []benchFile `bencode:"files,omitempty"`
	Name        string      `bencode:"name"`
	PieceLength int64       `bencode:"piece length"`
	Pieces      []byte      `bencode:"pieces"`
	Private     int64       `bencode:"private,omitempty"`
}

type benchFile struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

// torrent65536 builds a 65,536-piece multi-file torrent (1.3 MB of piece
// hashes, 200 files in nested directories).
func torrent65536(tb testing.TB) []byte {
	pieces := make([]byte, 65536*20)
	for i := 0; i < 65536; i++ {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(i))
		h := sha1.Sum(n[:])
		copy(pieces[i*20:], h[:])
	}
	t := benchTorrent{
		Announce:     "http://tracker.example.org:6969/announce",
		AnnounceList: [][]string{{"http://tracker.example.org:6969/announce"}, {"udp://tracker.example.net:1337/announce", "udp://other.example.com:80"}},
		Comment:      "benchmark torrent",
		CreatedBy:    "effusion",
		CreationDate: 1700000000,
		Info:         benchInfo{Name: "dataset", PieceLength: 1 << 18, Pieces: pieces},
	}
	total := int64(65536) << 18
	for i := 0; i < 200; i++ {
		t.Info.Files = append(t.Info.Files, benchFile{Length: total / 200, Path: []string{fmt.Sprintf("dir%02d", i/20), fmt.Sprintf("file-%03d.bin", i)}})
	}
	t.Info.Files[199].Length += total % 200
	b, err := Marshal(t)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestBenchTorrentDecodesTheSame(t *testing.T) {
	data := torrent65536(t)
	var a, b benchTorrent
	if err := Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	if err := anacrolix.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	ea, _ := Marshal(a)
	eb, _ := Marshal(b)
	if string(ea) != string(eb) || string(ea) != string(data) || len(a.Info.Pieces) != 65536*20 {
		t.Fatal("decoders disagree on the benchmark torrent")
	}
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loopCPU runs f in b.Loop and reports CPU time per op ("cpu-ns/op"), which
// stays meaningful when the machine is shared and wall time is not.
func loopCPU(b *testing.B, f func()) {
	c0 := cpuTime(b)
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(cpuTime(b)-c0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkDecodeTorrent65536 decodes the same torrent into the same struct
// with this package and with anacrolix/torrent/bencode (the baseline).
func BenchmarkDecodeTorrent65536(b *testing.B) {
	data := torrent65536(b)
	b.Run("effusion", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		loopCPU(b, func() {
			var t benchTorrent
			if err := Unmarshal(data, &t); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("anacrolix", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		loopCPU(b, func() {
			var t benchTorrent
			if err := anacrolix.Unmarshal(data, &t); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("effusion-generic", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		loopCPU(b, func() {
			var t any
			if err := Unmarshal(data, &t); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("anacrolix-generic", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		loopCPU(b, func() {
			var t any
			if err := anacrolix.Unmarshal(data, &t); err != nil {
				b.Fatal(err)
			}
		})
	})
}

func BenchmarkEncodeTorrent65536(b *testing.B) {
	data := torrent65536(b)
	var t benchTorrent
	if err := Unmarshal(data, &t); err != nil {
		b.Fatal(err)
	}
	b.Run("effusion", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		loopCPU(b, func() {
			if _, err := Marshal(&t); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("anacrolix", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		loopCPU(b, func() {
			if _, err := anacrolix.Marshal(&t); err != nil {
				b.Fatal(err)
			}
		})
	})
}

package mse

import (
	"context"
	stdrc4 "crypto/rc4"
	"net"
	"runtime"
	"testing"
)

// Benchmarks. The machine these run on is shared: compare figures from
// one run, and prefer the CPU-time metrics (MB/cpu-s, cpu-ns/op), which
// waiting for a core does not inflate.
//
//	go test -run '^$' -bench . -benchtime 2s ./mse/

// benchCipher runs xor over a 16 KiB block in place and reports MB per
// CPU-second of its thread.
func benchCipher(b *testing.B, xor func([]byte)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]byte, 16<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	c0 := threadCPU()
	for b.Loop() {
		xor(buf)
	}
	if cpu := threadCPU() - c0; cpu > 0 && c0 > 0 {
		b.ReportMetric(float64(b.N)*float64(len(buf))/1e6/(float64(cpu)/1e9), "MB/cpu-s")
	}
}

// BenchmarkRC4 is the package's RC4 (the assembly on amd64).
func BenchmarkRC4(b *testing.B) {
	var c rc4
	c.init(make([]byte, 20), discard)
	benchCipher(b, func(p []byte) { c.xor(p, p) })
}

// BenchmarkRC4Go is the Go version (other platforms).
func BenchmarkRC4Go(b *testing.B) {
	var c rc4
	c.init(make([]byte, 20), discard)
	benchCipher(b, func(p []byte) { c.xorGo(p, p) })
}

// BenchmarkRC4Stdlib is crypto/rc4, the baseline.
func BenchmarkRC4Stdlib(b *testing.B) {
	c, _ := stdrc4.NewCipher(make([]byte, 20))
	benchCipher(b, func(p []byte) { c.XORKeyStream(p, p) })
}

// BenchmarkConnPair streams 16 KiB writes one way over a loopback TCP
// pair: the bare connections, Conns with the Plaintext method, and Conns
// with RC4 (encrypted by the writer, decrypted by the reader). One op is
// one 16 KiB block; cpu-ns/op counts both ends.
func BenchmarkConnPair(b *testing.B) {
	for _, mode := range []string{"bare", "plaintext", "rc4"} {
		b.Run(mode, func(b *testing.B) {
			var w, r net.Conn
			a, c := tcpPair(b)
			w, r = a, c
			if mode != "bare" {
				provide := RC4
				if mode == "plaintext" {
					provide = Plaintext
				}
				ini, res := pair(b, provide, nil, Prefer.Select)
				if ini.err != nil || res.err != nil {
					b.Fatal(ini.err, res.err)
				}
				w, r = ini.c, res.c
			}
			block := make([]byte, 16<<10)
			b.SetBytes(int64(len(block)))
			b.ReportAllocs()
			done := make(chan error, 1)
			rbuf := make([]byte, 64<<10)
			b.ResetTimer()
			c0 := processCPU()
			go func() {
				want := int64(b.N) * int64(len(block))
				for want > 0 {
					n, err := r.Read(rbuf[:min(int64(len(rbuf)), want)])
					if err != nil {
						done <- err
						return
					}
					want -= int64(n)
				}
				done <- nil
			}()
			for range b.N {
				if _, err := w.Write(block); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if c0 > 0 {
				b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkHandshake is one whole handshake, both sides, over an
// established loopback connection (two 768-bit exponentiations per side
// dominate). cpu-ns/op counts both sides.
func BenchmarkHandshake(b *testing.B) {
	b.ReportAllocs()
	var cpu int64
	for b.Loop() {
		b.StopTimer()
		a, c := tcpPair(b)
		b.StartTimer()
		c0 := processCPU()
		done := make(chan error, 1)
		go func() {
			_, err := Respond(context.Background(), c, lookupOne(testInfoHash), Prefer.Select)
			done <- err
		}()
		if _, err := Initiate(context.Background(), a, testInfoHash, RC4|Plaintext, make([]byte, 68)); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - c0
		b.StopTimer()
		a.Close()
		c.Close()
		b.StartTimer()
	}
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	}
}

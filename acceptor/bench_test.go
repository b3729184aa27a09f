package acceptor_test

import (
	"context"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/acceptor"
)

// handOne is the connection work of both accept benchmarks: one byte
// out, then close, so the client knows the hand-off happened.
func handOne(c net.Conn) {
	c.Write([]byte{1})
	c.Close()
}

// dialLoop runs parallel clients that each connect and wait for the byte.
func dialLoop(b *testing.B, addr string) {
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 1)
		for pb.Next() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := c.Read(buf); err != nil {
				b.Error(err)
			}
			c.Close()
		}
	})
}

// BenchmarkAccept compares the pool's accept and hand-off with the bare
// `for { Accept(); go handle() }` loop, over loopback, in the same run.
// One op is one connection accepted, served and closed.
func BenchmarkAccept(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		ln := listenLoopback(b)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go handOne(c)
			}
		}()
		b.ResetTimer()
		dialLoop(b, ln.Addr().String())
		b.StopTimer()
		ln.Close()
		<-done
	})
	for _, n := range []int{1, 4} {
		b.Run("pool/acceptors="+string(rune('0'+n)), func(b *testing.B) {
			p, err := acceptor.Start(context.Background(), acceptor.Spec{
				New: acceptor.Func(func(_ context.Context, c net.Conn) error { handOne(c); return nil }),
			})
			if err != nil {
				b.Fatal(err)
			}
			ln := listenLoopback(b)
			if _, err := p.AddListener(context.Background(), ln, n); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			dialLoop(b, ln.Addr().String())
			b.StopTimer()
			if err := p.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkAcceptRatio interleaves the bare loop and the pool in batches
// of 200 connections, so that the shared machine's changing load hits
// both alike; it reports each side's ns per connection and the pool's
// rate as a fraction of the bare loop's (pool-rate/bare-rate).
func BenchmarkAcceptRatio(b *testing.B) {
	for _, n := range []int{1, 2, 8} {
		b.Run("acceptors="+string(rune('0'+n)), func(b *testing.B) {
			bare := listenLoopback(b)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					c, err := bare.Accept()
					if err != nil {
						return
					}
					go handOne(c)
				}
			}()
			p, err := acceptor.Start(context.Background(), acceptor.Spec{
				New: acceptor.Func(func(_ context.Context, c net.Conn) error { handOne(c); return nil }),
			})
			if err != nil {
				b.Fatal(err)
			}
			pl := listenLoopback(b)
			if _, err := p.AddListener(context.Background(), pl, n); err != nil {
				b.Fatal(err)
			}
			var tBare, tPool, cBare, cPool time.Duration
			const batch = 200
			b.ResetTimer()
			run := func(addr string, k int, t, c *time.Duration) {
				start, cpu := time.Now(), cpuTime()
				dialN(b, addr, k)
				*t += time.Since(start)
				*c += cpuTime() - cpu
			}
			for i, left := 0, b.N; left > 0; i, left = i+1, left-batch {
				k := min(batch, left)
				// Alternate which side goes first: the kernel's work for
				// one batch's closed sockets spills into the next.
				if i%2 == 0 {
					run(bare.Addr().String(), k, &tBare, &cBare)
					run(pl.Addr().String(), k, &tPool, &cPool)
				} else {
					run(pl.Addr().String(), k, &tPool, &cPool)
					run(bare.Addr().String(), k, &tBare, &cBare)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/conn")
			b.ReportMetric(float64(tPool.Nanoseconds())/float64(b.N), "pool-ns/conn")
			b.ReportMetric(float64(tBare)/float64(tPool), "pool-rate/bare-rate")
			// CPU time (clients included, the same on both sides) is less
			// disturbed by other processes on a shared machine.
			b.ReportMetric(float64(cBare)/float64(cPool), "pool-cpu-rate/bare-cpu-rate")
			bare.Close()
			<-done
			if err := p.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// dialN makes k connections from 8 concurrent clients.
func dialN(b *testing.B, addr string, k int) {
	var wg sync.WaitGroup
	next := make(chan struct{}, k)
	for range k {
		next <- struct{}{}
	}
	close(next)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1)
			for range next {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := c.Read(buf); err != nil {
					b.Error(err)
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

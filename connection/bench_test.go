package connection_test

import (
	"context"
	"io"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/effusion-bt/effusion/connection"
)

// BenchmarkReconnect measures how long after the server comes back the
// TCPConnection client is connected again, with a constant 20 ms backoff
// step: one op is one outage (server gone for 2.5 steps) and recovery.
// Goal: within one backoff step. It reports the mean and the worst
// latency as fractions of the step.
func BenchmarkReconnect(b *testing.B) {
	const step = 20 * time.Millisecond
	policy := func() connection.Policy {
		return &backoff.ExponentialBackOff{InitialInterval: step, Multiplier: 1, MaxInterval: step}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	c, err := dialTCP(addr, policy)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Stop(context.Background(), nil)
	ctx := context.Background()
	peer, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		peer.Close()
		ln.Close()
		if _, err := recv(ctx, c, 1, time.Second); err != io.EOF {
			b.Fatalf("recv = %v", err)
		}
		time.Sleep(step * 5 / 2) // the outage: a few refused dials
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		back := time.Now()
		if peer, err = ln.Accept(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(back))
	}
	b.StopTimer()
	peer.Close()
	ln.Close()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	b.ReportMetric(float64(sum)/float64(len(lat))/float64(step), "mean-latency/step")
	b.ReportMetric(float64(lat[len(lat)-1])/float64(step), "max-latency/step")
}

package utp

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// memPair makes two Sockets on n and a connection between them.
func memPair(t *testing.T, n *memNet, cfg Config) (a, b *Socket, d, acc net.Conn) {
	t.Helper()
	a, err := New(n.listen(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err = New(n.listen(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	d, acc = connPair(t, a, b)
	return a, b, d, acc
}

// A 64 MiB transfer over a network that loses 2%, duplicates 1%,
// reorders 5% and delays 20-30 ms arrives intact (virtual time).
func TestLossyTransfer(t *testing.T) {
	size := 64 << 20
	if testing.Short() {
		size = 8 << 20
	}
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		n.loss, n.dup, n.reorder = 0.02, 0.01, 0.05
		n.delay, n.jitter = 20*time.Millisecond, 10*time.Millisecond
		_, _, d, acc := memPair(t, n, Config{})
		start := time.Now()
		transfer(t, d, acc, size)
		acc.Close()
		el := time.Since(start)
		st := d.(*Conn).Stats()
		t.Logf("%d MiB in %v virtual (%.1f MB/s); sent %d datagrams, dropped %d; sender %+v",
			size>>20, el, float64(size)/el.Seconds()/1e6, n.sent, n.dropped, st)
	})
}

var _ = context.Background

package utp

import (
	"io"
	"testing"
)

// The data path allocates nothing per packet: writing and reading 1 MiB
// through a loopback pair (both Sockets' reader goroutines, batched system
// calls, acks, timers) allocates nothing in steady state.
func TestDataPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, size := range []int{0, 1400} {
		a, b := socketPair(t, Config{MaxPacketSize: size})
		d, acc := connPair(t, a, b)
		chunk := make([]byte, 1<<20)
		rd := make([]byte, 1<<20)
		done := make(chan struct{})
		run := func() {
			go func() {
				d.Write(chunk)
				done <- struct{}{}
			}()
			io.ReadFull(acc, rd)
			<-done
		}
		for range 8 { // warm up: windows, rings and pools reach their sizes
			run()
		}
		allocs := testing.AllocsPerRun(20, run)
		pkts := float64(len(chunk)) / float64(d.(*Conn).Stats().PacketSize-headerLen)
		// The harness itself (a goroutine per run) costs 1.
		perPacket := max(allocs-1, 0) / pkts
		t.Logf("packet size %d: %.1f allocations per MiB, %.4f per packet", d.(*Conn).Stats().PacketSize, allocs, perPacket)
		if perPacket > 0.01 {
			t.Errorf("%.3f allocations per packet", perPacket)
		}
		d.Close()
		acc.Close()
	}
}

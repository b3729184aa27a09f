package tracker

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// startBadUDPTracker answers every datagram with garbage and with replies
// that carry the wrong transaction id, on a real loopback socket.
func startBadUDPTracker(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 16 {
				continue
			}
			tid := binary.BigEndian.Uint32(buf[12:])
			pc.WriteTo([]byte{0xde, 0xad}, from)
			pc.WriteTo(make([]byte, 60000), from)
			pc.WriteTo(AppendUDPConnectResponse(nil, tid+1, 99), from)
		}
	})
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return "udp://" + pc.LocalAddr().String() + "/announce"
}

// TestMisbehavingUDPTrackerRealSocket: over a real socket, a tracker that
// only sends garbage and wrong transaction ids yields ErrTimeout after the
// (shortened) retransmission schedule, and a closed port does not hang either.
func TestMisbehavingUDPTrackerRealSocket(t *testing.T) {
	u := startBadUDPTracker(t)
	c := NewClient(Options{UDPBase: 20 * time.Millisecond, UDPRetries: 2})
	_, err := c.Announce(context.Background(), u, AnnounceRequest{Port: 1})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v", err)
	}
	// Nobody listening: ICMP errors are treated as loss, still bounded.
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	closed := "udp://" + pc.LocalAddr().String()
	pc.Close()
	_, err = c.Announce(context.Background(), closed, AnnounceRequest{Port: 1})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("closed port: %v", err)
	}
	// A caller's deadline ends the wait even with a long schedule.
	slow := NewClient(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = slow.Announce(ctx, u, AnnounceRequest{Port: 1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ctx: %v", err)
	}
}

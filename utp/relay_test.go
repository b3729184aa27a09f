package utp

import (
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// relay is a userspace UDP impairment relay on loopback (this kernel has
// no netem): datagrams sent to front are forwarded from back to the target,
// and replies to back are forwarded from front to whoever last wrote to
// front. Each direction delays every datagram by a constant and drops a
// fraction, like netem's delay and loss.
type relay struct {
	front, back *net.UDPConn
	target      *net.UDPAddr
	delay       time.Duration
	loss        float64
	mu          sync.Mutex
	client      *net.UDPAddr
	wg          sync.WaitGroup
	forwarded   [2]int
	dropped     [2]int
}

func startRelay(t testing.TB, target *net.UDPAddr, delay time.Duration, loss float64) *relay {
	t.Helper()
	r := &relay{target: target, delay: delay, loss: loss}
	var err error
	if r.front, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	if r.back, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*net.UDPConn{r.front, r.back} {
		c.SetReadBuffer(8 << 20)
		c.SetWriteBuffer(8 << 20)
	}
	r.wg.Add(2)
	go r.pump(0, r.front, r.back)
	go r.pump(1, r.back, r.front)
	t.Cleanup(func() {
		r.front.Close()
		r.back.Close()
		r.wg.Wait()
	})
	return r
}

type delayed struct {
	at time.Time
	b  []byte
	to *net.UDPAddr
}

// pump forwards one direction: a reader goroutine stamps datagrams, this
// one sends each when its delay has passed (constant delay keeps order).
func (r *relay) pump(dir int, in, out *net.UDPConn) {
	defer r.wg.Done()
	q := make(chan delayed, 1<<16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := range q {
			if w := time.Until(d.at); w > 0 {
				time.Sleep(w)
			}
			out.WriteToUDP(d.b, d.to)
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(dir), 7))
	buf := make([]byte, 65536)
	for {
		n, from, err := in.ReadFromUDP(buf)
		if err != nil {
			break
		}
		var to *net.UDPAddr
		r.mu.Lock()
		if dir == 0 {
			r.client = from
			to = r.target
		} else {
			to = r.client
		}
		drop := rng.Float64() < r.loss
		if drop {
			r.dropped[dir]++
		} else {
			r.forwarded[dir]++
		}
		r.mu.Unlock()
		if drop || to == nil {
			continue
		}
		select {
		case q <- delayed{at: time.Now().Add(r.delay), b: append([]byte(nil), buf[:n]...), to: to}:
		default: // a full queue drops, like a full netem queue
		}
	}
	close(q)
	<-done
}

// A 64 MiB transfer through a relay that delays 50 ms each way and loses
// 1% each way (about netem's "delay 50ms loss 1%") arrives intact.
func TestRelayDelayLossTransfer(t *testing.T) {
	size := 64 << 20
	if testing.Short() {
		size = 8 << 20
	}
	a, b := socketPair(t, Config{})
	r := startRelay(t, b.Addr().(*net.UDPAddr), 50*time.Millisecond, 0.01)
	ra := r.front.LocalAddr().String()
	accCh := make(chan net.Conn, 1)
	go func() {
		c, err := b.Accept()
		if err != nil {
			accCh <- nil
			return
		}
		accCh <- c
	}()
	d, err := a.Dial(ra)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d.Write([]byte("hello"))
	acc := <-accCh
	if acc == nil {
		t.Fatal("accept failed")
	}
	buf := make([]byte, 5)
	if _, err := acc.Read(buf); err != nil {
		t.Fatal(err)
	}
	transfer(t, d, acc, size)
	acc.Close()
	el := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Logf("%d MiB in %v (%.1f MB/s); forwarded %v, dropped %v; sender %+v", size>>20, el.Round(time.Millisecond),
		float64(size)/el.Seconds()/1e6, r.forwarded, r.dropped, d.(*Conn).Stats())
}

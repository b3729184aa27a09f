package mse

import (
	"io"
	"net"
	"testing"
)

// TestConnAllocs: reading and writing an RC4 Conn allocates nothing (the
// write buffer is pooled, reads decrypt in place).
func TestConnAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	ini, res := pair(t, RC4, nil, Prefer.Select)
	if ini.err != nil || res.err != nil {
		t.Fatal(ini.err, res.err)
	}
	block := make([]byte, 16<<10)
	header := make([]byte, 13)
	rbuf := make([]byte, len(block)+len(header))
	bufs := make(net.Buffers, 2)
	var v net.Buffers // outside: as with net.Buffers.WriteTo, v escapes (a session keeps it in its peer)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := ini.c.Write(block); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(res.c, rbuf[:len(block)]); err != nil {
			t.Fatal(err)
		}
		bufs = append(bufs[:0], header, block)
		v = bufs
		if _, err := ini.c.WriteBuffers(&v); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(res.c, rbuf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per write and read", allocs)
	}
}

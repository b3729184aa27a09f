package mse_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/peerwire"
)

// A listener that requires encryption and a dialer that prefers it, on
// loopback: the listener finds the torrent by its SKEY hash, both sides
// exchange BitTorrent handshakes over the RC4 stream.
func Example() {
	infoHash := [20]byte{1, 2, 3}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The listener's side: one map entry per torrent, computed once.
	byHash := map[[20]byte][20]byte{mse.SKeyHash(infoHash): infoHash}
	lookup := func(h [20]byte) ([20]byte, bool) { ih, ok := byHash[h]; return ih, ok }
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	served := make(chan string)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			served <- err.Error()
			return
		}
		defer conn.Close()
		c, err := mse.Accept(ctx, conn, mse.Require, lookup)
		if err != nil {
			served <- err.Error()
			return
		}
		h, err := peerwire.ReadHandshake(c) // it came as the initial payload
		if err != nil || h.InfoHash != c.InfoHash() {
			served <- fmt.Sprint("bad handshake: ", err)
			return
		}
		peerwire.WriteHandshake(c, peerwire.Handshake{InfoHash: h.InfoHash, PeerID: [20]byte{'B'}})
		served <- "listener: " + c.Method().String()
	}()

	// The dialer's side.
	d := &mse.Dialer{Policy: mse.Prefer, Memory: new(mse.Memory)}
	addr := l.Addr().(*net.TCPAddr).AddrPort()
	c, theirs, err := d.Dial(ctx, addr, peerwire.Handshake{InfoHash: infoHash, PeerID: [20]byte{'A'}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(<-served)
	fmt.Printf("dialer: %v, peer %c\n", c.Method(), theirs.PeerID[0])
	// Output:
	// listener: rc4
	// dialer: rc4, peer B
}

// Choosing the policy from a command-line flag.
func ExampleParsePolicy() {
	p, err := mse.ParsePolicy("require")
	fmt.Println(p, err, p.Provide(), p.AcceptsPlain())
	_, err = mse.ParsePolicy("sometimes")
	fmt.Println(err)
	// Output:
	// require <nil> rc4 false
	// mse: unknown encryption policy "sometimes" (want prefer, require or off)
}

package utp_test

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/effusion-bt/effusion/utp"
)

// Two Sockets on loopback: one accepts and echoes, the other dials.
func Example() {
	server, err := utp.Listen("udp4", "127.0.0.1:0", utp.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	go func() {
		c, err := server.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo until the client's FIN
	}()

	client, err := utp.Listen("udp4", "127.0.0.1:0", utp.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	c, err := client.DialContext(context.Background(), server.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello over uTP"))
	buf := make([]byte, 14)
	if _, err := io.ReadFull(c, buf); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(buf))
	// Output: hello over uTP
}

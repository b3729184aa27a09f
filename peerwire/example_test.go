package peerwire_test

import (
	"bytes"
	"fmt"

	"github.com/effusion-bt/effusion/peerwire"
)

// A peer's reader goroutine: decode messages, and read each block
// straight into the buffer it belongs in.
func ExampleReader() {
	var stream []byte
	stream = peerwire.AppendSimple(stream, peerwire.MsgUnchoke)
	stream = peerwire.AppendHave(stream, 3)
	stream = peerwire.AppendPiece(stream, 3, 0, []byte("block data"))

	r := peerwire.NewReader(bytes.NewReader(stream), peerwire.ReaderOptions{NumPieces: 8})
	pieceBuf := make([]byte, 64) // e.g. the buffer of piece 3
	for {
		m, err := r.ReadMessage()
		if err != nil {
			fmt.Println("end:", err)
			return
		}
		switch m.ID {
		case peerwire.MsgPiece:
			dst := pieceBuf[m.Begin : m.Begin+m.Length]
			if err := r.ReadPayload(dst); err != nil {
				fmt.Println(err)
				return
			}
			fmt.Printf("piece %d: %q\n", m.Index, dst)
		default:
			fmt.Println(m.ID, m.Index)
		}
	}
	// Output:
	// unchoke 0
	// have 3
	// piece 3: "block data"
	// end: EOF
}

// A peer's writer goroutine: small messages are queued and go out with
// the next block in one writev.
func ExampleWriter() {
	var conn bytes.Buffer // a net.Conn in real use
	w := peerwire.NewWriter(&conn)
	w.QueueHave(5)
	w.QueueRequest(7, 0, peerwire.BlockSize)
	if err := w.WritePiece(2, 16384, []byte("block")); err != nil {
		fmt.Println(err)
	}
	fmt.Println(conn.Len(), "bytes in one write")
	// Output: 44 bytes in one write
}

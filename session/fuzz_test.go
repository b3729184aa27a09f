package session

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/effusion-bt/effusion/peerwire"
)

// FuzzPeerReader feeds arbitrary bytes to a peer's reader loop (after the
// handshake): it must never panic, and whatever it rejects must be a
// protocol violation or a plain end of stream.
func FuzzPeerReader(f *testing.F) {
	var ok []byte
	ok = peerwire.AppendBitfield(ok, []byte{0xff, 0xc0})
	ok = peerwire.AppendSimple(ok, peerwire.MsgUnchoke)
	ok = peerwire.AppendHave(ok, 3)
	ok = peerwire.AppendRequest(ok, 1, 0, 16384)
	ok = peerwire.AppendCancel(ok, 1, 0, 16384)
	ok = peerwire.AppendPiece(ok, 2, 16384, make([]byte, 100))
	ok = peerwire.AppendExtended(ok, 0, []byte("d1:md6:ut_pexi1ee1:v4:testi4:reqqi250ee"))
	f.Add(ok)
	f.Add(peerwire.AppendSimple(nil, peerwire.MsgHaveNone))
	f.Add(append(peerwire.AppendSimple(nil, peerwire.MsgHaveNone), peerwire.AppendBitfield(nil, []byte{1, 0})...))
	f.Add([]byte{0, 0, 0, 5, 4, 0, 0, 0, 10})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(peerwire.AppendReject(nil, 9, 0, 100))
	env := testEnv(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		f := testFacts(env, 10, testPieceLen, 9*testPieceLen+1000, memBlocks{make([]byte, 10*testPieceLen), testPieceLen})
		f.g().have.Set(1)
		var remote peerwire.Handshake
		remote.SetFast()
		remote.SetExtended()
		a, _ := net.Pipe()
		sink := newFakeSink()
		p := newPeer(a, netip.AddrPort{}, remote, f.ourHandshake(), f, sink, false)
		p.choking = false
		err := p.readLoop(peerwire.NewReader(bytes.NewReader(in), peerwire.ReaderOptions{NumPieces: 10, HeaderOnlyExtended: true}))
		if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrProtocol) {
			t.Fatalf("reader ended with %v", err)
		}
		for _, b := range sink.blocks {
			if b.n == 0 || b.n > peerwire.BlockSize || int64(b.begin)+int64(b.n) > f.g().pieceSize(int(b.index)) {
				t.Fatalf("block %d/%d+%d escaped validation", b.index, b.begin, b.n)
			}
			env.blocks.put(b)
		}
		p.close(nil)
	})
}

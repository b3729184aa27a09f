package session

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// fakeSink records what a peer's reader reports.
type fakeSink struct {
	mu     sync.Mutex
	msgs   []peerwire.Message
	exts   []peerwire.ExtendedHandshake
	blocks []*block
	hold   bool    // keep the credits of messages...
	held   []*Peer // ...of these, until release
	gone   chan *Peer
}

func newFakeSink() *fakeSink { return &fakeSink{gone: make(chan *Peer, 1)} }

// post records what the session would get, and hands back the credit of
// a message at once, as the session does once it has handled one (unless
// hold: then at release).
func (s *fakeSink) post(e event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e := e.(type) {
	case evPeerMsg:
		s.msgs = append(s.msgs, e.m)
		if s.hold {
			s.held = append(s.held, e.p)
			break
		}
		e.p.handled()
	case evExtHandshake:
		s.exts = append(s.exts, e.h)
		e.p.handled()
	case *block:
		s.blocks = append(s.blocks, e)
	case evPeerGone:
		s.gone <- e.p
	}
	return true
}

func (s *fakeSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// release hands back the held credits and stops holding.
func (s *fakeSink) release() {
	s.mu.Lock()
	held := s.held
	s.hold, s.held = false, nil
	s.mu.Unlock()
	for _, p := range held {
		p.handled()
	}
}

// memBlocks serves uploads from a byte slice.
type memBlocks struct {
	data     []byte
	pieceLen int64
}

func (m memBlocks) ReadBlock(index int, begin int64, buf []byte) error {
	off := int64(index)*m.pieceLen + begin
	if off+int64(len(buf)) > int64(len(m.data)) {
		return errors.New("out of range")
	}
	copy(buf, m.data[off:])
	return nil
}

const testPieceLen = 64 << 10

// pipePeer starts a Peer on one end of a net.Pipe and returns the other
// end as the remote side, with the test's sink. The torrent has 10 pieces
// of 64 KiB and we have pieces 0-4.
func pipePeer(t *testing.T, fast bool) (*Peer, net.Conn, *fakeSink, []byte) {
	t.Helper()
	data := make([]byte, 10*testPieceLen)
	for i := range data {
		data[i] = byte(i * 7)
	}
	f := testFacts(testEnv(t), 10, testPieceLen, int64(len(data)), memBlocks{data, testPieceLen})
	for i := range 5 {
		f.g().have.Set(i)
	}
	ours := f.ourHandshake()
	var remote peerwire.Handshake
	remote.SetExtended()
	if fast {
		remote.SetFast()
	}
	a, b := net.Pipe()
	sink := newFakeSink()
	p := newPeer(a, netip.MustParseAddrPort("127.0.0.1:1"), remote, ours, f, sink, true)
	p.start(a)
	t.Cleanup(func() {
		b.Close()
		p.close(nil)
		<-p.Done()
	})
	return p, b, sink, data
}

// expectViolation writes raw frames and expects the peer to hang up with a
// protocol violation.
func expectViolation(t *testing.T, fast bool, frames ...[]byte) {
	t.Helper()
	p, remote, sink, _ := pipePeer(t, fast)
	go io.Copy(io.Discard, remote)
	for _, fr := range frames {
		if _, err := remote.Write(fr); err != nil {
			break // the peer already hung up
		}
	}
	select {
	case <-sink.gone:
	case <-time.After(10 * time.Second):
		t.Fatal("peer not dropped")
	}
	if !errors.Is(p.Err(), ErrProtocol) {
		t.Fatalf("peer closed with %v, want a protocol violation", p.Err())
	}
}

// TestPeerDropsMalformedInput: what the reader checks itself, the wire's
// bounds (the protocol's rules are the core's: see
// TestSessionDropsProtocolViolations).
func TestPeerDropsMalformedInput(t *testing.T) {
	bf := func(b ...byte) []byte { return peerwire.AppendBitfield(nil, b) }
	ext := func(id byte, payload string) []byte { return peerwire.AppendExtended(nil, id, []byte(payload)) }
	okExt := ext(0, "d1:v4:teste")
	cases := map[string]struct {
		fast   bool
		frames [][]byte
	}{
		"bitfield too long":       {false, [][]byte{bf(0xff, 0xc0, 0)}},
		"bitfield spare bits":     {false, [][]byte{bf(0xff, 0xe0)}},
		"have out of range":       {false, [][]byte{peerwire.AppendHave(nil, 10)}},
		"request beyond piece":    {false, [][]byte{peerwire.AppendRequest(nil, 0, testPieceLen-16384+1, 16384)}},
		"request over 16 KiB":     {false, [][]byte{peerwire.AppendRequest(nil, 0, 0, 32768)}},
		"request index":           {false, [][]byte{peerwire.AppendRequest(nil, 10, 0, 16384)}},
		"piece over 16 KiB":       {false, [][]byte{peerwire.AppendPiece(nil, 0, 0, make([]byte, 16385))}},
		"piece beyond its piece":  {false, [][]byte{peerwire.AppendPiece(nil, 9, testPieceLen-100, make([]byte, 200))}},
		"oversized frame":         {false, [][]byte{{0x10, 0, 0, 0, 7}}},
		"choke with payload":      {false, [][]byte{{0, 0, 0, 2, 0, 0}}},
		"reject beyond its piece": {true, [][]byte{peerwire.AppendReject(nil, 0, testPieceLen, 16384)}},
		"second ext handshake":    {false, [][]byte{okExt, okExt}},
		"malformed ext handshake": {false, [][]byte{ext(0, "d1:v4:test")}},
		"huge ext handshake":      {false, [][]byte{ext(0, "d1:v"+fmt.Sprint(maxExtHandshake)+":"+string(make([]byte, maxExtHandshake))+"e")}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) { expectViolation(t, c.fast, c.frames...) })
	}
}

// readFrames decodes what the peer sends us.
func readFrames(t *testing.T, c net.Conn, n int, pieceBuf func(m peerwire.Message) []byte) []peerwire.Message {
	t.Helper()
	r := peerwire.NewReader(bufio.NewReader(c), peerwire.ReaderOptions{NumPieces: 10})
	var out []peerwire.Message
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(out) < n {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("reading frame %d: %v", len(out), err)
		}
		if m.ID == peerwire.MsgPiece {
			buf := make([]byte, m.Length)
			if err := r.ReadPayload(buf); err != nil {
				t.Fatal(err)
			}
			m.Payload = buf
		}
		out = append(out, m)
	}
	return out
}

func TestPeerServesRequestsOnlyWhenUnchokedAndHad(t *testing.T) {
	p, remote, _, data := pipePeer(t, true)
	// Choked: the request is rejected (fast extension).
	go remote.Write(peerwire.AppendRequest(nil, 1, 0, 16384))
	got := readFrames(t, remote, 1, nil)
	if got[0].ID != peerwire.MsgReject || got[0].Index != 1 {
		t.Fatalf("choked request answered with %v, want reject", got[0])
	}
	p.setChoking(false)
	got = readFrames(t, remote, 1, nil)
	if got[0].ID != peerwire.MsgUnchoke {
		t.Fatalf("got %v, want unchoke", got[0])
	}
	// A piece we lack is rejected; one we have is served byte for byte.
	go func() {
		remote.Write(peerwire.AppendRequest(nil, 7, 0, 16384))
		remote.Write(peerwire.AppendRequest(nil, 2, 16384, 16384))
	}()
	got = readFrames(t, remote, 2, nil)
	if got[0].ID != peerwire.MsgReject || got[0].Index != 7 {
		t.Fatalf("request for a missing piece answered with %v, want reject", got[0])
	}
	if got[1].ID != peerwire.MsgPiece || got[1].Index != 2 || got[1].Begin != 16384 {
		t.Fatalf("got %v, want piece 2/16384", got[1])
	}
	want := data[2*testPieceLen+16384 : 2*testPieceLen+32768]
	if string(got[1].Payload) != string(want) {
		t.Fatal("served block differs from the data")
	}
	if p.uploaded.Load() != 16384 {
		t.Fatalf("uploaded = %d, want 16384", p.uploaded.Load())
	}
}

func TestPeerUploadQueueIsBounded(t *testing.T) {
	p, remote, _, _ := pipePeer(t, true)
	p.mu.Lock()
	p.choking = false
	p.mu.Unlock()
	// Stall the writer: nobody reads remote while we queue, so the writer
	// blocks on its first batch and the rest piles up in the queue.
	var frames []byte
	for i := range maxUploadQueue + 50 {
		frames = peerwire.AppendRequest(frames, uint32(i%5), 0, 16384)
	}
	go remote.Write(frames)
	deadline := time.Now().Add(10 * time.Second)
	for p.queuedUploads() < maxUploadQueue-uploadBatch && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if q := p.queuedUploads(); q > maxUploadQueue {
		t.Fatalf("queue holds %d requests, cap is %d", q, maxUploadQueue)
	}
	// Everything is answered: served blocks plus rejects for the excess.
	got := readFrames(t, remote, maxUploadQueue+50, nil)
	var served, rejected int
	for _, m := range got {
		switch m.ID {
		case peerwire.MsgPiece:
			served++
		case peerwire.MsgReject:
			rejected++
		}
	}
	if served+rejected != maxUploadQueue+50 || rejected == 0 {
		t.Fatalf("served %d, rejected %d of %d requests", served, rejected, maxUploadQueue+50)
	}
}

func TestPeerDeliversBlocksAndMessages(t *testing.T) {
	p, remote, sink, _ := pipePeer(t, true)
	go func() {
		var b []byte
		b = peerwire.AppendSimple(b, peerwire.MsgHaveAll)
		b = peerwire.AppendSimple(b, peerwire.MsgUnchoke)
		blk := make([]byte, 16384)
		blk[0], blk[16383] = 1, 2
		b = peerwire.AppendPiece(b, 3, 16384, blk)
		b = peerwire.AppendKeepAlive(b)
		remote.Write(b)
		remote.Close()
	}()
	select {
	case <-sink.gone:
	case <-time.After(10 * time.Second):
		t.Fatal("reader did not end")
	}
	if errors.Is(p.Err(), ErrProtocol) {
		t.Fatalf("honest peer dropped: %v", p.Err())
	}
	if len(sink.msgs) != 2 || sink.msgs[0].ID != peerwire.MsgHaveAll || sink.msgs[1].ID != peerwire.MsgUnchoke {
		t.Fatalf("messages %v", sink.msgs)
	}
	if len(sink.blocks) != 1 {
		t.Fatalf("%d blocks, want 1", len(sink.blocks))
	}
	b := sink.blocks[0]
	if b.index != 3 || b.begin != 16384 || b.n != 16384 || b.bytes()[0] != 1 || b.bytes()[16383] != 2 || b.p != p {
		t.Fatalf("block %d/%d len %d", b.index, b.begin, b.n)
	}
}

// TestPeerForwardsAvailabilityInOrder: the reader leaves the availability
// rules to the core and passes the messages on as they come (aria2 follows
// have none, or its bitfield, with another bitfield).
func TestPeerForwardsAvailabilityInOrder(t *testing.T) {
	p, remote, sink, _ := pipePeer(t, true)
	go func() {
		var b []byte
		b = peerwire.AppendSimple(b, peerwire.MsgHaveNone)
		b = peerwire.AppendSimple(b, peerwire.MsgInterested)
		b = peerwire.AppendBitfield(b, []byte{0x41, 0x40}) // pieces 1, 7, 9
		b = peerwire.AppendBitfield(b, []byte{0x41, 0x40}) // nothing new
		remote.Write(b)
		remote.Close()
	}()
	<-sink.gone
	if errors.Is(p.Err(), ErrProtocol) {
		t.Fatalf("dropped: %v", p.Err())
	}
	var ids []peerwire.MessageID
	for _, m := range sink.msgs {
		ids = append(ids, m.ID)
	}
	if fmt.Sprint(ids) != fmt.Sprint([]peerwire.MessageID{peerwire.MsgHaveNone, peerwire.MsgInterested, peerwire.MsgBitfield, peerwire.MsgBitfield}) {
		t.Fatalf("messages %v", ids)
	}
}

// TestPeerSkipsUnadvertisedExtensions: an extended message for an id we
// never advertised is skipped whatever its size (no allocation of it, no
// event); the extension handshake is parsed on the reader's goroutine.
func TestPeerSkipsUnadvertisedExtensions(t *testing.T) {
	p, remote, sink, _ := pipePeer(t, true)
	go func() {
		var b []byte
		b = peerwire.AppendExtended(b, 7, make([]byte, 1<<20))
		b = peerwire.AppendExtended(b, 0, []byte("d1:v4:test4:reqqi77ee"))
		b = peerwire.AppendExtended(b, 3, make([]byte, 100))
		remote.Write(b)
		remote.Close()
	}()
	<-sink.gone
	if errors.Is(p.Err(), ErrProtocol) {
		t.Fatalf("dropped: %v", p.Err())
	}
	if len(sink.msgs) != 0 || len(sink.exts) != 1 || sink.exts[0].V != "test" || sink.exts[0].Reqq != 77 {
		t.Fatalf("messages %v, extension handshakes %+v", sink.msgs, sink.exts)
	}
}

// TestPeerEventsAreBounded: a peer whose messages the session does not
// keep up with waits (back-pressure on its reader) once maxQueuedEvents
// of them are queued, instead of growing the session's mailbox.
func TestPeerEventsAreBounded(t *testing.T) {
	p, remote, sink, _ := pipePeer(t, true)
	sink.hold = true
	var flood []byte
	for range 3 * maxQueuedEvents {
		flood = peerwire.AppendSimple(flood, peerwire.MsgUnchoke)
	}
	go remote.Write(flood)
	deadline := time.Now().Add(10 * time.Second)
	for sink.count() < maxQueuedEvents && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // room for any excess to show
	if n := sink.count(); n != maxQueuedEvents {
		t.Fatalf("%d events queued, want the cap %d", n, maxQueuedEvents)
	}
	sink.release()
	for sink.count() < 3*maxQueuedEvents && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := sink.count(); n != 3*maxQueuedEvents {
		t.Fatalf("%d events after release, want %d", n, 3*maxQueuedEvents)
	}
	p.close(nil)
}

// TestPeerKeepAliveAndIdle checks the timing rules with explicit clocks:
// a keep-alive goes out only after 90 s of silence from us; a peer silent
// for more than idleTimeout is idle.
func TestPeerKeepAliveAndIdle(t *testing.T) {
	p, remote, _, _ := pipePeer(t, false)
	base := time.Unix(1_000_000, 0)
	p.lastSend.Store(base.UnixNano())
	p.lastRecv.Store(base.UnixNano())
	p.sendKeepAlive(base.Add(keepAliveInterval*3/4 - time.Second))
	p.mu.Lock()
	queued := len(p.out)
	p.mu.Unlock()
	if queued != 0 {
		t.Fatalf("keep-alive queued after %v of silence", keepAliveInterval*3/4-time.Second)
	}
	p.sendKeepAlive(base.Add(keepAliveInterval * 3 / 4))
	buf := make([]byte, 4)
	remote.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(remote, buf); err != nil || string(buf) != "\x00\x00\x00\x00" {
		t.Fatalf("read %q, %v; want a keep-alive", buf, err)
	}
	if p.idle(base.Add(idleTimeout)) {
		t.Fatal("idle at exactly idleTimeout")
	}
	if !p.idle(base.Add(idleTimeout + time.Nanosecond)) {
		t.Fatal("not idle after idleTimeout")
	}
}

// TestPeerNotReadingIsDropped: a peer that floods requests and never reads
// the rejects is dropped once its queue passes maxOutBuffer, instead of
// growing our memory without bound.
func TestPeerNotReadingIsDropped(t *testing.T) {
	p, remote, sink, _ := pipePeer(t, true)
	var flood []byte
	for range 1 << 14 {
		flood = peerwire.AppendRequest(flood, 7, 0, 16384) // a piece we lack: rejected
	}
	go func() {
		for i := 0; i < 8; i++ { // 8 × 16384 rejects of 17 bytes > 1 MiB
			if _, err := remote.Write(flood); err != nil {
				return
			}
		}
	}()
	select {
	case <-sink.gone:
	case <-time.After(20 * time.Second):
		t.Fatal("a peer that never reads was not dropped")
	}
	if !errors.Is(p.Err(), ErrSlowPeer) {
		t.Fatalf("closed with %v, want ErrSlowPeer", p.Err())
	}
}

package core

import "time"

// Block states within a piece record.
const (
	blkFree      uint8 = iota // in the pool
	blkRequested              // requested from req[:nreq]
	blkReceived               // accepted from `from`
)

// block is the progress of one block of a piece being downloaded.
type block struct {
	state uint8
	nreq  uint8
	req   [maxDupLimit]PeerID // peers it is requested from
	from  PeerID              // who sent the accepted copy (for blame)
	data  any                 // the shell's payload of the accepted copy
	eta   time.Duration       // when the earliest requester should deliver it
}

func (b *block) requestedBy(id PeerID) bool {
	for _, r := range b.req[:b.nreq] {
		if r == id {
			return true
		}
	}
	return false
}

func (b *block) removeReq(id PeerID) bool {
	for k := 0; k < int(b.nreq); k++ {
		if b.req[k] == id {
			b.nreq--
			b.req[k] = b.req[b.nreq]
			b.req[b.nreq] = NoPeer
			return true
		}
	}
	return false
}

// record is the progress of a piece with requests in flight. Records are
// pooled: a torrent allocates at most as many as pieces are ever in flight
// at once.
type record struct {
	blocks []block
	nfree  int
	nrecv  int
	hint   int    // no free block before it
	owner  PeerID // the peer whose current piece this is...
	owned  bool   // ...while the piece is in the owned list
}

func (t *Torrent) newRecord(i uint32) {
	var k int32
	if n := len(t.freeRecs); n > 0 {
		k = t.freeRecs[n-1]
		t.freeRecs = t.freeRecs[:n-1]
	} else {
		k = int32(len(t.recs))
		t.recs = append(t.recs, record{blocks: make([]block, t.blocksPer)})
	}
	r := &t.recs[k]
	nb := t.numBlocks(i)
	r.blocks = r.blocks[:nb]
	clear(r.blocks)
	r.nfree, r.nrecv, r.hint = nb, 0, 0
	r.owner, r.owned = NoPeer, false
	t.rec[i] = k
}

func (t *Torrent) freeRecord(i uint32) {
	t.freeRecs = append(t.freeRecs, t.rec[i])
	t.rec[i] = -1
}

// toFresh puts a piece with no block requested or received back in the
// buckets (or in no list when it is no longer wanted).
func (t *Torrent) toFresh(i uint32) {
	switch t.state[i] {
	case stPartial:
		t.listRemove(t.partialList(i), i)
	case stFull:
		t.listRemove(&t.full, i)
	}
	t.freeRecord(i)
	if t.want.has(i) {
		t.state[i] = stFresh
		t.bucketAdd(i)
	} else {
		t.state[i] = stUnwanted
	}
}

// locate validates a block address and returns the piece's record and block
// number, or ok=false when it is out of range or misaligned.
func (t *Torrent) locate(piece, begin, length uint32) (b int, ok bool) {
	if int(piece) >= t.n || begin%BlockSize != 0 {
		return 0, false
	}
	b = int(begin / BlockSize)
	if b >= t.numBlocks(piece) || length != t.blockLen(piece, b) {
		return 0, false
	}
	return b, true
}

// BlockReceived records a PIECE message's block. data is the shell's handle
// on the payload (a pooled buffer; opaque to the core): with BlockAccepted
// the core keeps it in the piece's record, the one place a piece is
// assembled, until TakePiece hands the piece's data back in block order
// (or Ready.Discard, if the piece is abandoned); with any other verdict the
// shell keeps it. A block that matches no request to this peer (nor one we
// recently cancelled) is a protocol violation: the verdict is
// BlockViolation and the peer is in Ready.Drops. When the block completes
// its piece, the piece is in Ready.Hash; other peers that had the block
// requested (end game) are sent cancels.
func (t *Torrent) BlockReceived(id PeerID, piece, begin, length uint32, data any) BlockVerdict {
	p := t.from(id)
	if p == nil {
		return BlockDiscarded
	}
	p.sawOther = true
	b, ok := t.locate(piece, begin, length)
	if !ok {
		t.drop(p, ReasonBadIndex, false)
		return BlockViolation
	}
	ref := reqRef{piece: piece, block: uint32(b)}
	if k := t.rec[piece]; k >= 0 {
		r := &t.recs[k]
		blk := &r.blocks[b]
		if blk.state == blkRequested && blk.removeReq(p.id) {
			sent := time.Duration(-1)
			if p.outstanding() > 0 && p.out[p.outHead].ref == ref {
				sent = p.out[p.outHead].at // peers answer in order
			}
			p.removeOut(ref)
			for _, q := range blk.req[:blk.nreq] {
				if qp := t.lookup(q); qp != nil {
					qp.removeOut(ref)
					qp.addLate(ref)
					t.emit(qp, MsgCancel, piece, begin, length)
					t.markDirty(qp)
				}
			}
			blk.req = [maxDupLimit]PeerID{}
			blk.nreq = 0
			blk.state = blkReceived
			blk.from = p.id
			blk.data = data
			r.nrecv++
			t.progress(p, length)
			t.downloaded += int64(length)
			if p.slowStart {
				if sent >= 0 && t.now-sent > t.queueTime() {
					// The queue already holds more than its time's
					// worth: the rate estimate, not growth, sizes it.
					p.slowStart = false
				} else {
					p.target = min(p.target+1, t.maxTarget(p))
				}
			}
			if r.nrecv == len(r.blocks) {
				t.listRemove(&t.full, piece)
				t.state[piece] = stHashing
				t.rd.Hash = append(t.rd.Hash, piece)
			}
			return BlockAccepted
		}
	}
	if p.takeLate(ref) {
		t.progress(p, length)
		t.wasted += int64(length)
		return BlockDiscarded
	}
	t.drop(p, ReasonUnrequested, false)
	return BlockViolation
}

// progress credits p with a delivered block: it is not snubbing us.
func (t *Torrent) progress(p *peer, n uint32) {
	p.down.add(int64(n))
	t.down.add(int64(n))
	p.downloaded += int64(n)
	p.lastProgress = t.now
	if p.snubbed {
		p.snubbed = false
		p.slowStart = true
		p.target = min(t.cfg.MinRequests, t.maxTarget(p))
	}
	t.markDirty(p)
}

// PeerReject records a BEP 6 REJECT REQUEST: the block returns to the pool.
// A reject for a request never sent (nor recently cancelled), or from a
// peer without the fast extension, drops the peer.
func (t *Torrent) PeerReject(id PeerID, piece, begin, length uint32) {
	p := t.from(id)
	if p == nil {
		return
	}
	b, ok := t.locate(piece, begin, length)
	if !ok {
		t.drop(p, ReasonBadIndex, false)
		return
	}
	if !p.fast {
		t.drop(p, ReasonProtocol, false)
		return
	}
	ref := reqRef{piece: piece, block: uint32(b)}
	if p.removeOut(ref) {
		t.unrequest(p, ref)
		// A peer that rejects while unchoking us is overloaded: do not
		// ask it for more than it now holds.
		p.target = max(min(p.target, p.outstanding()), 1)
		p.slowStart = false
		t.markDirty(p)
		t.bump()
		return
	}
	if !p.takeLate(ref) {
		t.drop(p, ReasonProtocol, false)
	}
}

// unrequest removes p as a requester of ref (already removed from p.out)
// and returns the block to the pool when nobody else has it requested.
func (t *Torrent) unrequest(p *peer, ref reqRef) {
	k := t.rec[ref.piece]
	if k < 0 {
		return
	}
	r := &t.recs[k]
	blk := &r.blocks[ref.block]
	if blk.state != blkRequested || !blk.removeReq(p.id) || blk.nreq > 0 {
		return
	}
	blk.state = blkFree
	r.nfree++
	r.hint = min(r.hint, int(ref.block))
	i := ref.piece
	if r.nfree == len(r.blocks) {
		t.toFresh(i)
		return
	}
	if t.state[i] == stFull {
		t.listRemove(&t.full, i)
		t.state[i] = stPartial
		if o := t.lookup(r.owner); o != nil && o.cur == int64(i) {
			r.owned = true
			t.listAdd(&t.owned, i)
		} else {
			t.listAdd(&t.partial, i)
		}
	}
}

// releaseAll returns every outstanding request of p to the pool. With
// cancel, CANCELs are sent; either way a late answer is tolerated.
func (t *Torrent) releaseAll(p *peer, cancel bool) {
	if p.outstanding() == 0 {
		return
	}
	for _, o := range p.out[p.outHead:] {
		ref := o.ref
		t.unrequest(p, ref)
		if !p.closing {
			p.addLate(ref)
		}
		if cancel {
			t.emit(p, MsgCancel, ref.piece, ref.block*BlockSize, t.blockLen(ref.piece, int(ref.block)))
		}
	}
	p.out = p.out[:0]
	p.outHead = 0
	t.markDirty(p) // it has room again (if it may still be asked)
	t.bump()
}

// abandon cancels every request for piece i and forgets its progress.
func (t *Torrent) abandon(i uint32) {
	k := t.rec[i]
	if k < 0 {
		return
	}
	r := &t.recs[k]
	for b := range r.blocks {
		blk := &r.blocks[b]
		if blk.data != nil {
			t.rd.Discard = append(t.rd.Discard, blk.data)
			blk.data = nil
		}
		ref := reqRef{piece: i, block: uint32(b)}
		for _, q := range blk.req[:blk.nreq] {
			if qp := t.lookup(q); qp != nil && qp.removeOut(ref) {
				qp.addLate(ref)
				t.markDirty(qp)
				t.emit(qp, MsgCancel, i, uint32(b)*BlockSize, t.blockLen(i, b))
			}
		}
	}
	switch t.state[i] {
	case stPartial:
		t.listRemove(t.partialList(i), i)
	case stFull:
		t.listRemove(&t.full, i)
	}
	t.freeRecord(i)
	t.state[i] = stUnwanted
	t.bump()
}

// PieceHashed reports the verification of a piece from Ready.Hash. On
// success the piece is ours: it is in Ready.Have, peers that only had it
// for us are sent NOT INTERESTED, and Ready.Completed is set when it was
// the last wanted piece. On failure its blocks return to the pool and every
// peer that sent one of them gets a strike; a peer that sent the whole
// piece, or that reaches BanStrikes, is dropped with Ban. Reports for
// pieces not awaiting verification are ignored.
func (t *Torrent) PieceHashed(piece uint32, ok bool) {
	if int(piece) >= t.n || t.state[piece] != stHashing {
		return
	}
	r := &t.recs[t.rec[piece]]
	if ok {
		if len(t.fails) > 0 {
			t.forgetFailures(piece)
		}
		t.freeRecord(piece)
		t.markHave(piece)
		t.rd.Have = append(t.rd.Have, piece)
		t.checkComplete()
		return
	}
	t.hashFails++
	t.suspect.set(piece)
	t.wasted += t.PieceLen(piece)
	t.contrib = t.contrib[:0]
	for _, blk := range r.blocks {
		seen := false
		for _, c := range t.contrib {
			if c == blk.from {
				seen = true
				break
			}
		}
		if !seen {
			t.contrib = append(t.contrib, blk.from)
		}
	}
	t.freeRecord(piece)
	if t.want.has(piece) {
		t.state[piece] = stFresh
		t.bucketAdd(piece)
	} else {
		t.state[piece] = stUnwanted
	}
	sole := len(t.contrib) == 1
	for _, c := range t.contrib {
		if p := t.lookup(c); p != nil {
			p.strikes++
			if sole || p.strikes >= t.cfg.BanStrikes {
				t.drop(p, ReasonBadData, true)
			}
		}
	}
	t.bump()
}

// TakePiece appends the data of piece's blocks, in block order, to dst and
// hands it to the shell (the core keeps none of it): call it for each piece
// of Ready.Hash, before PieceHashed. A piece not awaiting verification
// appends nothing.
func (t *Torrent) TakePiece(piece uint32, dst []any) []any {
	if int(piece) >= t.n || t.state[piece] != stHashing {
		return dst
	}
	r := &t.recs[t.rec[piece]]
	for b := range r.blocks {
		dst = append(dst, r.blocks[b].data)
		r.blocks[b].data = nil
	}
	return dst
}

// TakeAll appends the data of every block the core still holds (pieces
// not complete, or complete and not yet taken) to dst and forgets it: for
// the shell's shutdown, after which the Torrent is not used again.
func (t *Torrent) TakeAll(dst []any) []any {
	for i := range t.n {
		k := t.rec[i]
		if k < 0 {
			continue
		}
		r := &t.recs[k]
		for b := range r.blocks {
			if d := r.blocks[b].data; d != nil {
				dst = append(dst, d)
				r.blocks[b].data = nil
			}
		}
	}
	return dst
}

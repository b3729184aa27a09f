package session

import (
	"fmt"

	"github.com/effusion-bt/effusion/bitset"
	"github.com/effusion-bt/effusion/metainfo"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/statem"
)

// FilePriority is what the user wants of one file of the torrent.
type FilePriority int8

// File priorities.
const (
	// FileNormal: download the file.
	FileNormal FilePriority = iota
	// FileHigh: download the file before the normal ones.
	FileHigh
	// FileSkip: do not download the file, and do not create it.
	FileSkip
)

var filePriorityNames = [...]string{"normal", "high", "skip"}

// String returns the priority's name.
func (p FilePriority) String() string {
	if int(p) >= 0 && int(p) < len(filePriorityNames) {
		return filePriorityNames[p]
	}
	return fmt.Sprintf("priority(%d)", int8(p))
}

// evPriorities: new file priorities, one per file of the torrent.
type evPriorities struct {
	prios []FilePriority
	done  chan error
}

// SetFilePriorities sets the priority of every file (len(prios) must be the
// torrent's file count; padding files are ignored): the pieces that touch
// only skipped files are no longer wanted, skipped files that do not exist
// are never created, and pieces of high-priority files are fetched first.
// It takes effect at once, also while checking; the session's completion
// follows (a torrent whose wanted pieces are all verified is complete, and
// is no longer once a missing file is wanted again).
func (s *Session) SetFilePriorities(prios []FilePriority) error {
	g := s.facts.g()
	if g == nil {
		return ErrNoMetadata
	}
	if len(prios) != len(g.files) {
		return fmt.Errorf("session: %d priorities for %d files", len(prios), len(g.files))
	}
	done := make(chan error, 1)
	if !s.post(evPriorities{append([]FilePriority(nil), prios...), done}) {
		return ErrStopped
	}
	select {
	case err := <-done:
		return err
	case <-s.m.Done():
		return ErrStopped
	}
}

func (e evPriorities) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	err := srv.applyPriorities(e.prios)
	if err != nil {
		e.done <- err
		return srv.shutdown(Failed, fmt.Errorf("session: setting file priorities: %w", err))
	}
	if ph != Checking {
		srv.startWebSeeds() // what the web seeds have may be wanted now
	}
	if ph != Checking && srv.wasComplete && !srv.core.Complete() {
		// A file is wanted again: download it. (Await re-armed before
		// SetFilePriorities returns.)
		srv.wasComplete = false
		srv.s.markIncomplete()
		srv.publish(Downloading)
		e.done <- nil
		return srv.step(ph, statem.NextEvent(statem.Internal, toDownloading{}))
	}
	e.done <- nil
	if ph == Checking {
		return srv.keepPhase()
	}
	return srv.step(ph)
}

// toDownloading moves a seeding session back to downloading.
type toDownloading struct{}

// applyPriorities maps file priorities onto the storage (skipped files)
// and the core (wanted pieces and their priority).
func (srv *server) applyPriorities(prios []FilePriority) error {
	skip := make([]bool, len(prios))
	for i, p := range prios {
		skip[i] = p == FileSkip
	}
	if err := srv.store.SetSkipped(skip); err != nil {
		return err
	}
	wanted, high := PiecePriorities(&srv.mi.Info, prios)
	for i := range srv.g.numPieces {
		srv.core.SetWanted(uint32(i), wanted.Has(i))
		prio := core.PriorityNormal
		if high.Has(i) {
			prio = core.PriorityHigh
		}
		srv.core.SetPriority(uint32(i), prio)
	}
	srv.prios = prios
	srv.g.left.Store(srv.core.Stats().Left)
	return nil
}

// PiecePriorities maps file priorities (one per file of info; nil: all
// normal) to pieces: a piece is wanted when it touches a file not skipped,
// high when it touches a high one. Padding and empty files count for
// nothing.
func PiecePriorities(info *metainfo.Info, prios []FilePriority) (wanted, high bitset.Set) {
	n := info.NumPieces()
	wanted, high = bitset.New(n), bitset.New(n)
	if prios == nil {
		wanted.SetAll()
		return wanted, high
	}
	for i, f := range info.Files {
		if f.Padding || len(f.SymlinkPath) > 0 || f.Length == 0 || i >= len(prios) || prios[i] == FileSkip {
			continue
		}
		first := int(f.Offset / info.PieceLength)
		last := int((f.Offset + f.Length - 1) / info.PieceLength)
		for p := first; p <= last; p++ {
			wanted.Set(p)
			if prios[i] == FileHigh {
				high.Set(p)
			}
		}
	}
	return wanted, high
}

package session

import (
	"errors"
	"io/fs"
	"os"
	"sync"

	"github.com/effusion-bt/effusion/bitset"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/storage"
)

// Resume is what a resume store knows of a torrent's data, to spare the
// start-up check: the pieces of Known are taken as they are (verified when
// in Have, missing otherwise) without being read; only the others are
// hashed. Known must cover only pieces whose files are unchanged since the
// store recorded them, and Have only pieces the store knew to be durably on
// disk.
type Resume struct {
	Known bitset.Set
	Have  bitset.Set
}

// Checkpoint is a durable state of a session's data, for a resume store.
type Checkpoint struct {
	// Have is the set of pieces verified and durably on disk (written and
	// then synced).
	Have bitset.Set
	// Files is storage.Stat after the sync: each file's size and
	// modification time, the part file last.
	Files []storage.FileStat
}

// ErrNoCheckpoint: the session ended without a durable final state (it
// completed and stopped by itself without syncing, or storage failed).
var ErrNoCheckpoint = errors.New("session: no durable checkpoint")

// Checkpoint makes the verified pieces durable and reports them: it takes
// the set of verified pieces, syncs the files (so that every one of them is
// on the disk), then stats the files. A resume store may claim exactly
// Have. It runs on the caller's goroutine, beside the download; once the
// session has ended it returns the state recorded as it stopped (or
// ErrNoCheckpoint).
func (s *Session) Checkpoint() (Checkpoint, error) {
	select {
	case <-s.m.Done():
		return s.final.get()
	default:
	}
	g := s.facts.g()
	if g == nil {
		return Checkpoint{}, ErrNoMetadata
	}
	st := g.store.(fileStore)
	have := g.have.snapshot()
	if err := st.Sync(); err != nil {
		if fin, ferr := s.final.get(); ferr == nil {
			return fin, nil // stopped meanwhile: its final state is newer
		}
		return Checkpoint{}, err
	}
	files, err := st.Stat()
	if err != nil {
		if fin, ferr := s.final.get(); ferr == nil {
			return fin, nil
		}
		return Checkpoint{}, err
	}
	return Checkpoint{Have: have, Files: files}, nil
}

// finalState is the checkpoint taken in Terminate, after the last sync.
type finalState struct {
	mu  sync.Mutex
	cp  Checkpoint
	err error
	set bool
}

func (f *finalState) put(cp Checkpoint, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cp, f.err, f.set = cp, err, true
}

func (f *finalState) get() (Checkpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.set {
		return Checkpoint{}, ErrNoCheckpoint
	}
	return f.cp, f.err
}

// StatFiles returns storage.Stat of a torrent's files under dir (the part
// file last) without a session: what a resume store compares with what it
// recorded to decide what to trust. It creates nothing.
func StatFiles(dir string, info *metainfo.Info) ([]storage.FileStat, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		out := make([]storage.FileStat, len(info.Files)+1)
		for i := range out {
			out[i].Size = -1
		}
		return out, nil
	}
	st, err := storage.Open(dir, info, storage.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Stat()
}

package client

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/storage"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The resume store is one bbolt file in the data directory. Each torrent is
// a bucket under "torrents", named by its info-hash, with three keys:
// "info" (the raw info dictionary, written once: a restart needs no
// .torrent file), "meta" (what the user chose and the totals) and
// "resume" (the verified pieces and, for each file, the size and
// modification time it had when they were recorded). The rule that makes
// it crash-safe: "resume" is written only with pieces whose data was
// synced to disk first (session.Checkpoint), so the store never claims a
// piece that is not durably there.

const storeFile = "resume.db"

var (
	bucketTorrents = []byte("torrents")
	keyInfo        = []byte("info")
	keyMeta        = []byte("meta")
	keyResume      = []byte("resume")
)

// StoreError is returned by New when the resume store cannot be opened or
// read: it names the file. Starting with Config.ResetResume sets the file
// aside and starts afresh; downloaded data is never touched.
type StoreError struct {
	Path string
	Err  error
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("resume store %s is unreadable: %v (start afresh with --reset-resume: the file is set aside, downloaded data is kept)", e.Path, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// ErrStoreInUse: another process holds the data directory's resume store.
var ErrStoreInUse = errors.New("client: the resume store is in use by another process")

// meta is a torrent's record of choices and totals. ExtraSeeds are the
// web seeds given beside the torrent's (Spec.WebSeeds, AddWebSeeds);
// WebBytes is the part of Downloaded that came from web seeds.
type meta struct {
	Dir          string     `bencode:"dir"`
	Magnet       string     `bencode:"magnet,omitempty"` // while the info is not known
	Trackers     [][]string `bencode:"trackers,omitempty"`
	WebSeeds     []string   `bencode:"web seeds,omitempty"`
	Priorities   []byte     `bencode:"priorities,omitempty"` // one FilePriority per file
	Paused       int64      `bencode:"paused,omitempty"`
	Uploaded     int64      `bencode:"uploaded,omitempty"`
	Downloaded   int64      `bencode:"downloaded,omitempty"`
	AddedUnix    int64      `bencode:"added"`
	CompleteUnix int64      `bencode:"completed,omitempty"`
	ExtraSeeds   []string   `bencode:"extra web seeds,omitempty"`
	WebBytes     int64      `bencode:"web seed downloaded,omitempty"`
}

// resumeRec is a torrent's durable data state.
type resumeRec struct {
	Have  []byte     `bencode:"have"` // peer wire bitfield layout
	Files []fileStat `bencode:"files"`
}

type fileStat struct {
	Size  int64 `bencode:"size"` // -1: missing
	MTime int64 `bencode:"mtime,omitempty"`
}

func toFileStats(fs []storage.FileStat) []fileStat {
	out := make([]fileStat, len(fs))
	for i, f := range fs {
		out[i] = fileStat{Size: f.Size}
		if f.Size >= 0 {
			out[i].MTime = f.ModTime.UnixNano()
		}
	}
	return out
}

// record is one torrent as loaded from the store.
type record struct {
	infoHash [20]byte
	info     []byte
	meta     meta
	resume   *resumeRec // nil: none, or damaged
	err      error      // why info or meta could not be read
}

// store is the open resume store.
type store struct {
	path string
	db   *bolt.DB
}

// openStore opens (creating) the store in dir; with reset, an existing one
// is renamed aside first.
func openStore(dir string, reset bool) (*store, error) {
	path := filepath.Join(dir, storeFile)
	if reset {
		if _, err := os.Stat(path); err == nil {
			aside := fmt.Sprintf("%s.broken-%s", path, time.Now().UTC().Format("20060102T150405"))
			if err := os.Rename(path, aside); err != nil {
				return nil, &StoreError{Path: path, Err: err}
			}
		}
	}
	db, err := openBolt(path)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrStoreInUse, path)
	}
	if err != nil {
		return nil, &StoreError{Path: path, Err: err}
	}
	s := &store{path: path, db: db}
	if err := s.update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketTorrents)
		return err
	}); err != nil {
		db.Close()
		return nil, &StoreError{Path: path, Err: err}
	}
	return s, nil
}

// openBolt opens the database, turning bbolt's panics on a damaged file
// into errors.
func openBolt(path string) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged: %v", r)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
}

// view and update run a transaction; a panic inside bbolt (a damaged
// page) becomes an error.
func (s *store) view(fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged: %v", r)
		}
	}()
	return s.db.View(fn)
}

func (s *store) update(fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged: %v", r)
		}
	}()
	return s.db.Update(fn)
}

func (s *store) close() error { return s.db.Close() }

// load reads every torrent. A torrent whose info or meta is unreadable
// comes with err set; one whose resume record is damaged comes without it
// (a full check follows).
func (s *store) load() ([]record, error) {
	var out []record
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTorrents).ForEachBucket(func(k []byte) error {
			var r record
			if len(k) != 20 {
				return nil // not ours
			}
			copy(r.infoHash[:], k)
			b := tx.Bucket(bucketTorrents).Bucket(k)
			r.info = bytes.Clone(b.Get(keyInfo))
			if err := bencode.Unmarshal(b.Get(keyMeta), &r.meta); err != nil {
				r.err = fmt.Errorf("damaged record: %w", err)
			} else if len(r.info) == 0 && r.meta.Magnet == "" {
				r.err = errors.New("no info dictionary and no magnet link")
			}
			if raw := b.Get(keyResume); raw != nil {
				var rr resumeRec
				if bencode.Unmarshal(raw, &rr) == nil {
					r.resume = &rr
				}
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, &StoreError{Path: s.path, Err: err}
	}
	return out, nil
}

// put writes a torrent's record: info only when given (it never changes),
// meta always, resume when given.
func putRecord(tx *bolt.Tx, ih [20]byte, info []byte, m *meta, r *resumeRec) error {
	b, err := tx.Bucket(bucketTorrents).CreateBucketIfNotExists(ih[:])
	if err != nil {
		return err
	}
	if info != nil {
		if err := b.Put(keyInfo, info); err != nil {
			return err
		}
	}
	if m != nil {
		mb, err := bencode.Marshal(m)
		if err != nil {
			return err
		}
		if err := b.Put(keyMeta, mb); err != nil {
			return err
		}
	}
	if r != nil {
		rb, err := bencode.Marshal(r)
		if err != nil {
			return err
		}
		if err := b.Put(keyResume, rb); err != nil {
			return err
		}
	}
	return nil
}

// forget deletes a torrent's record.
func (s *store) forget(ih [20]byte) error {
	return s.update(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketTorrents).DeleteBucket(ih[:])
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
}

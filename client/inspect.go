package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/effusion-bt/effusion/bitset"
	"github.com/effusion-bt/effusion/metainfo"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// StoredTorrent is one torrent as a data directory's resume store holds
// it, read without starting anything (ReadStore).
type StoredTorrent struct {
	InfoHash [20]byte
	// Info is the stored info dictionary; nil for a magnet link whose
	// metadata had not arrived (Magnet is set then).
	Info   *metainfo.Info
	Magnet string
	Dir    string
	// Have is the set of pieces the store vouches are verified and durably
	// on disk, as of the last checkpoint; nil when there is no resume
	// record (a full check follows on start). Files is the size and
	// modification time each file had then (the last entry: the part
	// file); a file whose size is -1 did not exist.
	Have  *bitset.Set
	Files []StoredFile

	Paused               bool
	Uploaded, Downloaded int64
	Added, Completed     time.Time // Completed is zero until it completed

	// Err says why the record is unusable (New leaves such a torrent out).
	Err error
}

// StoredFile is a file's state as a checkpoint recorded it.
type StoredFile struct {
	Size    int64 // -1: the file did not exist
	ModTime time.Time
}

// ReadStore reads the resume store of dataDir without starting any
// torrent: what a restart would load, for tools and tests. It fails with
// ErrStoreInUse while a Client holds the store, with a *StoreError when
// the file cannot be read, and with an error wrapping fs.ErrNotExist when
// there is no store.
func ReadStore(dataDir string) ([]StoredTorrent, error) {
	path := filepath.Join(dataDir, storeFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("client: resume store: %w", err)
	}
	db, err := openBoltReadOnly(path)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrStoreInUse, path)
	}
	if err != nil {
		return nil, &StoreError{Path: path, Err: err}
	}
	s := &store{path: path, db: db}
	defer s.close()
	if err := s.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketTorrents) == nil {
			return errors.New("no torrents bucket")
		}
		return nil
	}); err != nil {
		return nil, &StoreError{Path: path, Err: err}
	}
	recs, err := s.load()
	if err != nil {
		return nil, err
	}
	out := make([]StoredTorrent, 0, len(recs))
	for _, r := range recs {
		st := StoredTorrent{
			InfoHash:   r.infoHash,
			Magnet:     r.meta.Magnet,
			Dir:        r.meta.Dir,
			Paused:     r.meta.Paused != 0,
			Uploaded:   r.meta.Uploaded,
			Downloaded: r.meta.Downloaded,
			Added:      time.Unix(r.meta.AddedUnix, 0),
			Err:        r.err,
		}
		if r.meta.CompleteUnix != 0 {
			st.Completed = time.Unix(r.meta.CompleteUnix, 0)
		}
		if len(r.info) > 0 && r.err == nil {
			mi, err := metainfo.ParseInfo(r.info)
			switch {
			case err != nil:
				st.Err = fmt.Errorf("stored info: %w", err)
			case mi.InfoHash != r.infoHash:
				st.Err = errors.New("stored info does not match its info-hash")
			default:
				st.Info = &mi.Info
			}
		}
		if r.resume != nil && st.Info != nil {
			if have, err := bitset.FromBytes(r.resume.Have, st.Info.NumPieces()); err == nil {
				st.Have = &have
				for _, f := range r.resume.Files {
					sf := StoredFile{Size: f.Size}
					if f.Size >= 0 {
						sf.ModTime = time.Unix(0, f.MTime)
					}
					st.Files = append(st.Files, sf)
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// openBoltReadOnly opens the database for reading (a shared lock: it
// waits for no reader, and times out on a writer), turning bbolt's panics
// on a damaged file into errors.
func openBoltReadOnly(path string) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged: %v", r)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
}

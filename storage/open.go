package storage

import (
	"github.com/effusion-bt/effusion/metainfo"
)

// Open prepares storage for a torrent's info under dir (see OpenLayout).
// Every file path is first proven to stay under dir with metainfo.SafeJoin,
// so a torrent whose paths lead outside (through a symlink already on disk)
// is refused here with an error wrapping metainfo.ErrUnsafePath; later file
// accesses go through an os.Root, which keeps refusing escapes made after
// Open. BEP 47 symlink entries are not created (they read as zeros, like
// padding).
func Open(dir string, info *metainfo.Info, opts Options) (*Storage, error) {
	layout := Layout{PieceLength: info.PieceLength, Hashes: info.Pieces, Files: make([]File, len(info.Files))}
	for i, f := range info.Files {
		skip := f.Padding || len(f.SymlinkPath) > 0
		if !skip {
			if _, err := metainfo.SafeJoin(dir, f.Path); err != nil {
				return nil, err
			}
		}
		layout.Files[i] = File{Path: f.Path, Length: f.Length, Padding: skip}
	}
	return OpenLayout(dir, layout, opts)
}

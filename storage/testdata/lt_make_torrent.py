# Makes a v1 torrent with BEP 47 padding files (libtorrent's canonical
# layout) of the directory argv[1], written to argv[2], with pieces of
# argv[3] bytes. Run with the python3 that has the libtorrent module.
import os
import sys

import libtorrent as lt

src, out, piece = sys.argv[1], sys.argv[2], int(sys.argv[3])
fs = lt.file_storage()
lt.add_files(fs, src)
ct = lt.create_torrent(fs, piece, flags=lt.create_torrent.v1_only | lt.create_torrent.canonical_files)
lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(src)))
with open(out, "wb") as f:
    f.write(lt.bencode(ct.generate()))

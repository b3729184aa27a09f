// Package storage keeps a torrent's pieces in its files on disk.
//
// A torrent is one contiguous byte stream cut into pieces; its files are
// consecutive ranges of that stream. [Storage] maps a piece (or any range)
// onto the files it spans and reads or writes each part with pread/pwrite
// ([os.File.ReadAt] and [os.File.WriteAt]) on handles kept in a bounded LRU
// cache. BEP 47 padding files are never created: their ranges read as zeros
// and writes to them are dropped.
//
// Files are created lazily, on the first write that touches them, and
// extended to their full length with ftruncate, so they are sparse: nothing
// is zero-filled. Reading and checking never create a file; a missing or
// short file makes its pieces missing.
//
// Every path is opened through an [os.Root] on the download directory, so a
// file name, or a symbolic link met on the way, cannot lead outside it.
//
// # Durability
//
// Storage never holds data of its own: WritePiece hands a verified piece to
// the kernel before returning, and [Storage.Sync] (call it when stopping,
// and periodically if you checkpoint resume data) fsyncs every file written
// since the last Sync. A handle evicted from the cache is fsynced before it
// is closed, so Sync covers it too. The caller must only write verified
// pieces ([VerifyPiece]); storage cannot tell good data from bad.
//
// # Starting over existing data
//
// [Storage.Check] hashes whatever is on disk, in parallel over the cores,
// and returns the set of pieces that verify, so a download restarted over
// partial data keeps exactly what is already good.
package storage

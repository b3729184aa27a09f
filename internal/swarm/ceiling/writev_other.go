//go:build !(darwin || linux || openbsd)

package ceiling

import "os"

// writeBlocks writes blocks back to back at off, one WriteAt each.
func writeBlocks(f *os.File, blocks [][]byte, off int64) error {
	for _, b := range blocks {
		if _, err := f.WriteAt(b, off); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}

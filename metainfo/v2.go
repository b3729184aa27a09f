package metainfo

import (
	"slices"

	"github.com/effusion-bt/effusion/bencode"
)

// treeFile is one file of a BEP 52 file tree.
type treeFile struct {
	path   string
	length int64
}

// walkFileTree lists the files of a v2 "file tree" in its (sorted) order.
// The structure is {name: {name: ... {"": {"length": n, "pieces root": h}}}}.
func walkFileTree(raw []byte) ([]treeFile, error) {
	var tree map[string]any
	if err := bencode.Unmarshal(raw, &tree); err != nil {
		return nil, bencodeErr("info.file tree", err)
	}
	var out []treeFile
	var walk func(prefix string, node map[string]any) error
	walk = func(prefix string, node map[string]any) error {
		for _, k := range sortedKeys(node) {
			child, ok := node[k].(map[string]any)
			if !ok {
				return malformed("info.file tree", "%q is not a dictionary", prefix+"/"+k)
			}
			if k == "" {
				length, ok := child["length"].(int64)
				if !ok || length < 0 {
					return malformed("info.file tree", "%q has no valid length", prefix)
				}
				if root, ok := child["pieces root"].(string); length > 0 && (!ok || len(root) != 32) {
					return malformed("info.file tree", "%q has no 32-byte pieces root", prefix)
				}
				out = append(out, treeFile{prefix, length})
				if len(out) > MaxFiles {
					return fieldErr("info.file tree", ErrLimit, "more than %d files", MaxFiles)
				}
				continue
			}
			if err := walk(prefix+"/"+k, child); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("", tree); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, malformed("info.file tree", "no files")
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkHybrid verifies that the v1 part of a hybrid torrent describes the
// same data as its v2 file tree: the same non-padding file lengths in the
// same order, and the same number of pieces (anacrolix #1186: a mismatch
// lets the two halves disagree about what a piece is).
func checkHybrid(info *Info, fileTree []byte) error {
	if len(fileTree) == 0 {
		return malformed("info.file tree", "missing in a hybrid (meta version 2) torrent")
	}
	tree, err := walkFileTree(fileTree)
	if err != nil {
		return err
	}
	var v1 []int64
	for _, f := range info.Files {
		if !f.Padding {
			v1 = append(v1, f.Length)
		}
	}
	if len(v1) != len(tree) {
		return malformed("info", "hybrid torrent lists %d files in its v1 part and %d in its file tree", len(v1), len(tree))
	}
	var v2Pieces int64
	for i, f := range tree {
		if v1[i] != f.length {
			return malformed("info", "hybrid torrent: file %d is %d bytes in the v1 part but %d in the file tree (%s)", i, v1[i], f.length, f.path)
		}
		v2Pieces += (f.length + info.PieceLength - 1) / info.PieceLength
	}
	if v2Pieces != int64(len(info.Pieces)) {
		return malformed("info.pieces", "hybrid torrent has %d v1 pieces but its file tree implies %d", len(info.Pieces), v2Pieces)
	}
	return nil
}

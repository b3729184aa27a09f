package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/effusion-bt/effusion/internal/units"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/spf13/cobra"
)

func newInfoCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info FILE.torrent|MAGNET",
		Short: "Show what a .torrent or magnet link contains",
		Long: `Show a .torrent's name, info-hash, size, pieces, files (padding marked),
trackers by tier, flags, web seeds and creator, or what a magnet link carries.
A malformed input exits with status 2 and one line naming the field at fault.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInfo(cmd.OutOrStdout(), args[0], asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// infoFile is a file in the JSON output.
type infoFile struct {
	Path    string `json:"path"`
	Length  int64  `json:"length"`
	Offset  int64  `json:"offset"`
	Padding bool   `json:"padding,omitempty"`
	Attr    string `json:"attr,omitempty"`
}

// torrentJSON is the JSON form of a .torrent.
type torrentJSON struct {
	Name         string     `json:"name"`
	InfoHash     string     `json:"info_hash"`
	InfoHashV2   string     `json:"info_hash_v2,omitempty"`
	Hybrid       bool       `json:"hybrid"`
	TotalSize    int64      `json:"total_size"`
	PieceLength  int64      `json:"piece_length"`
	Pieces       int        `json:"pieces"`
	Private      bool       `json:"private"`
	MultiFile    bool       `json:"multi_file"`
	Files        []infoFile `json:"files"`
	Trackers     [][]string `json:"trackers"`
	WebSeeds     []string   `json:"web_seeds"`
	CreatedBy    string     `json:"created_by,omitempty"`
	CreationDate int64      `json:"creation_date,omitempty"`
	Comment      string     `json:"comment,omitempty"`
	Source       string     `json:"source,omitempty"`
	Magnet       string     `json:"magnet"`
}

// magnetJSON is the JSON form of a magnet link.
type magnetJSON struct {
	Magnet     bool                 `json:"magnet"`
	InfoHash   string               `json:"info_hash,omitempty"`
	InfoHashV2 string               `json:"info_hash_v2,omitempty"`
	Name       string               `json:"name,omitempty"`
	Trackers   []string             `json:"trackers"`
	WebSeeds   []string             `json:"web_seeds"`
	Peers      []string             `json:"peers"`
	SelectOnly []metainfo.FileRange `json:"select_only,omitempty"`
	Canonical  string               `json:"canonical"`
}

func runInfo(w io.Writer, arg string, asJSON bool) error {
	if _, err := os.Stat(arg); err != nil && metainfo.LooksLikeMagnetOrHash(arg) {
		m, err := metainfo.ParseMagnet(arg)
		if !strings.HasPrefix(strings.ToLower(arg), "magnet:") {
			m, err = metainfo.ParseMagnetOrHash(arg) // a bare info-hash
		}
		if err != nil {
			return badInput(fmt.Errorf("magnet: %w", err))
		}
		if asJSON {
			return writeJSON(w, magnetToJSON(m))
		}
		printMagnet(w, m)
		return nil
	}
	m, err := loadTorrent(arg)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, torrentToJSON(m))
	}
	printTorrent(w, m)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func torrentToJSON(m *metainfo.MetaInfo) torrentJSON {
	j := torrentJSON{
		Name: m.Info.Name, InfoHash: m.InfoHashHex(), Hybrid: m.Hybrid,
		TotalSize: m.Info.TotalLength(), PieceLength: m.Info.PieceLength, Pieces: m.Info.NumPieces(),
		Private: m.Info.Private, MultiFile: m.Info.MultiFile, Trackers: nonNil(m.Trackers()), WebSeeds: nonNil(m.URLList),
		CreatedBy: m.CreatedBy, CreationDate: m.CreationDate, Comment: m.Comment, Source: m.Info.Source,
		Magnet: m.Magnet().String(), Files: []infoFile{},
	}
	if m.Hybrid {
		j.InfoHashV2 = hex.EncodeToString(m.InfoHashV2[:])
	}
	for _, f := range m.Info.Files {
		j.Files = append(j.Files, infoFile{Path: strings.Join(f.Path, "/"), Length: f.Length, Offset: f.Offset, Padding: f.Padding, Attr: f.Attr})
	}
	return j
}

func magnetToJSON(m *metainfo.Magnet) magnetJSON {
	j := magnetJSON{Magnet: true, Name: m.Name, Trackers: nonNil(m.Trackers), WebSeeds: nonNil(m.WebSeeds), Peers: nonNil(m.Peers), SelectOnly: m.SelectOnly, Canonical: m.String()}
	if m.HasV1 {
		j.InfoHash = hex.EncodeToString(m.InfoHash[:])
	}
	if m.HasV2 {
		j.InfoHashV2 = hex.EncodeToString(m.InfoHashV2[:])
	}
	return j
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printTorrent(w io.Writer, m *metainfo.MetaInfo) {
	i := &m.Info
	fmt.Fprintf(w, "%-15s%s\n", "name:", i.Name)
	fmt.Fprintf(w, "%-15s%s\n", "info-hash:", m.InfoHashHex())
	if m.Hybrid {
		fmt.Fprintf(w, "%-15s%s (hybrid v1+v2 torrent, used through its v1 part)\n", "info-hash v2:", hex.EncodeToString(m.InfoHashV2[:]))
	}
	fmt.Fprintf(w, "%-15s%d bytes (%s)\n", "total size:", i.TotalLength(), units.Format(i.TotalLength()))
	fmt.Fprintf(w, "%-15s%d of %d bytes (%s)\n", "pieces:", i.NumPieces(), i.PieceLength, units.Format(i.PieceLength))
	fmt.Fprintf(w, "%-15s%s\n", "private:", yesNo(i.Private))
	if m.CreatedBy != "" {
		fmt.Fprintf(w, "%-15s%s\n", "created by:", m.CreatedBy)
	}
	if m.CreationDate != 0 {
		fmt.Fprintf(w, "%-15s%s\n", "created on:", time.Unix(m.CreationDate, 0).UTC().Format(time.RFC3339))
	}
	if m.Comment != "" {
		fmt.Fprintf(w, "%-15s%s\n", "comment:", oneLine(m.Comment))
	}
	if i.Source != "" {
		fmt.Fprintf(w, "%-15s%s\n", "source:", i.Source)
	}

	tiers := m.Trackers()
	if len(tiers) == 0 {
		fmt.Fprintln(w, "trackers: none")
	} else {
		fmt.Fprintln(w, "trackers:")
		for n, tier := range tiers {
			fmt.Fprintf(w, "  tier %d: %s\n", n+1, strings.Join(tier, " "))
		}
	}
	if len(m.URLList) > 0 {
		fmt.Fprintln(w, "web seeds:")
		for _, u := range m.URLList {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
	fmt.Fprintf(w, "files (%d):\n", len(i.Files))
	width := 1
	for _, f := range i.Files {
		width = max(width, len(fmt.Sprint(f.Length)))
	}
	for _, f := range i.Files {
		mark := ""
		if f.Padding {
			mark = "  [padding]"
		}
		fmt.Fprintf(w, "  %*d  %s%s\n", width, f.Length, strings.Join(f.Path, "/"), mark)
	}
	fmt.Fprintf(w, "magnet: %s\n", m.Magnet())
}

// oneLine keeps a free-text field on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

func printMagnet(w io.Writer, m *metainfo.Magnet) {
	fmt.Fprintln(w, "magnet link")
	if m.HasV1 {
		fmt.Fprintf(w, "%-15s%s\n", "info-hash:", hex.EncodeToString(m.InfoHash[:]))
	}
	if m.HasV2 {
		fmt.Fprintf(w, "%-15s%s\n", "info-hash v2:", hex.EncodeToString(m.InfoHashV2[:]))
	}
	if m.Name != "" {
		fmt.Fprintf(w, "%-15s%s\n", "name:", oneLine(m.Name))
	}
	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(w, "%s:\n", title)
		for _, s := range items {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	list("trackers", m.Trackers)
	list("web seeds", m.WebSeeds)
	list("peers", m.Peers)
	if len(m.SelectOnly) > 0 {
		var parts []string
		for _, r := range m.SelectOnly {
			if r.First == r.Last {
				parts = append(parts, fmt.Sprint(r.First))
			} else {
				parts = append(parts, fmt.Sprintf("%d-%d", r.First, r.Last))
			}
		}
		fmt.Fprintf(w, "select only files: %s\n", strings.Join(parts, ", "))
	}
	if !m.HasV1 {
		fmt.Fprintln(w, "note: v2-only magnet (no btih): effusion cannot download it yet")
	}
}

package metainfo

import "slices"

// MetaInfo returns the torrent described by infoBytes, an info dictionary
// fetched from peers for this magnet (BEP 9): it is parsed with the same
// checks as ParseInfo (its errors are returned as they are), its SHA-1
// must be the magnet's v1 info-hash (else a *FieldError wrapping
// ErrInfoHash), and it gets the magnet's trackers (one per tier, the first
// as "announce") and web seeds. Encode then writes the .torrent file.
// infoBytes is copied.
func (m *Magnet) MetaInfo(infoBytes []byte) (*MetaInfo, error) {
	mi, err := ParseInfo(infoBytes)
	if err != nil {
		return nil, err
	}
	if !m.HasV1 || mi.InfoHash != m.InfoHash {
		return nil, fieldErr("info", ErrInfoHash, "SHA-1 %x is not the magnet's info-hash %x", mi.InfoHash, m.InfoHash)
	}
	mi.setTrackers(m.TrackerTiers())
	mi.URLList = slices.Clone(m.WebSeeds)
	return mi, nil
}

// EncodeTorrent returns a complete .torrent file around infoBytes, the raw
// info dictionary (copied verbatim, so the file's info-hash is the SHA-1
// of infoBytes), with the given announce tiers (the first tracker also as
// "announce"; "announce-list" when there is more than one tracker) and web
// seeds. infoBytes must pass ParseInfo's checks; its errors are returned
// as they are.
func EncodeTorrent(infoBytes []byte, tiers [][]string, webSeeds []string) ([]byte, error) {
	mi, err := ParseInfo(infoBytes)
	if err != nil {
		return nil, err
	}
	mi.setTrackers(tiers)
	mi.URLList = slices.Clone(webSeeds)
	return mi.Encode()
}

// setTrackers sets Announce and AnnounceList from tiers, leaving out
// empty URLs and tiers.
func (m *MetaInfo) setTrackers(tiers [][]string) {
	m.Announce, m.AnnounceList = "", nil
	n := 0
	for _, tier := range tiers {
		var t []string
		for _, u := range tier {
			if u != "" {
				t = append(t, u)
			}
		}
		if len(t) == 0 {
			continue
		}
		if m.Announce == "" {
			m.Announce = t[0]
		}
		n += len(t)
		m.AnnounceList = append(m.AnnounceList, t)
	}
	if n <= 1 {
		m.AnnounceList = nil
	}
}

package session

import (
	"crypto/rand"
	"log/slog"
	"net/netip"

	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/webseed"
)

// Config describes one torrent session. The zero value of every field but
// Dir and one of Torrent and Magnet is a sensible default.
type Config struct {
	// Torrent is the parsed .torrent; or, without it, Magnet.
	Torrent *metainfo.MetaInfo
	// Magnet starts the session without the info dictionary (a magnet
	// link, or a bare info-hash as metainfo.ParseMagnetOrHash returns it):
	// in the Metadata phase it is fetched from peers (BEP 9), from the
	// magnet's trackers and x.pe peers, Peers and AddPeers.
	Magnet *metainfo.Magnet
	// Select, when set, chooses the file priorities once the info is
	// known (a magnet's files are not known before); FilePriorities, when
	// set, wins.
	Select func(info *metainfo.Info) []FilePriority
	// MetadataOnly stops the session once a magnet's metadata is fetched
	// (MetaInfo then returns it).
	MetadataOnly bool
	// NoPEX turns peer exchange (BEP 11) off; it is always off for a
	// private torrent.
	NoPEX bool
	// Dir is the download directory: the torrent's files live under it.
	// Required.
	Dir string
	// Env holds what the sessions of a process share (hashers, block
	// budget, dialer, global rate limits, and the listening port). Nil: the
	// session makes its own and closes it when it ends.
	Env *Env
	// ListenAddr is where the session accepts incoming peers when its Env
	// has no listener ("127.0.0.1:0" picks a free loopback port). Empty
	// means ":0".
	ListenAddr string
	// Peers are dialled once the data is checked, as if a tracker had
	// returned them; with Peers the session needs no tracker at all.
	Peers []netip.AddrPort
	// FilePriorities, when set (one per file of the torrent), selects
	// files from the start, as SetFilePriorities does later.
	FilePriorities []FilePriority
	// Resume, when set, spares the start-up check what a resume store
	// knows (see Resume).
	Resume *Resume
	// NoTrackers disables announcing even when the torrent lists trackers.
	NoTrackers bool
	// Seed keeps the session running (seeding) after every piece is
	// verified; otherwise the session stops by itself once complete.
	Seed bool
	// NoSyncWhenComplete skips the sync as the session stops when every
	// wanted piece is verified: the data is with the OS, which writes it
	// back as for any program (only a crash of the machine itself loses
	// it), and an fsync of a whole download costs up to a second per GiB.
	// The session then has no final Checkpoint. A session that completes
	// without Seed never syncs.
	NoSyncWhenComplete bool
	// MaxPeers caps connected peers (incoming plus outgoing). Zero means 50.
	MaxPeers int
	// DownloadRate and UploadRate cap payload bytes per second; 0 means
	// unlimited.
	DownloadRate, UploadRate int
	// WebSeeds are web seed URLs (BEP 19) used beside the torrent's
	// url-list (a magnet's ws=): HTTP sources of pieces, fetched only
	// while wanted pieces are missing (at most MaxWebSeeds in all).
	WebSeeds []string
	// WebSeed tunes every web seed (connections, timeout, backoff,
	// strikes); the zero value selects package webseed's defaults.
	WebSeed webseed.Config
	// PeerID is our peer id; zero means a random "-EF0001-" id.
	PeerID [20]byte
	// Logger receives the session's logs; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultMaxPeers is the peer limit when Config.MaxPeers is zero.
const DefaultMaxPeers = 50

// ClientVersion is what we send as "v" in the extension handshake.
const ClientVersion = "Effusion 0.1"

// peerIDPrefix is the Azureus-style client tag of our peer ids.
const peerIDPrefix = "-EF0001-"

// NewPeerID returns a random peer id with Effusion's client prefix.
func NewPeerID() [20]byte {
	var id [20]byte
	copy(id[:], peerIDPrefix)
	const alnum = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var r [20]byte
	rand.Read(r[:])
	for i := len(peerIDPrefix); i < 20; i++ {
		id[i] = alnum[int(r[i])%len(alnum)]
	}
	return id
}

// infoHash is the torrent's, from the .torrent or the magnet.
func (c *Config) infoHash() [20]byte {
	if c.Torrent != nil {
		return c.Torrent.InfoHash
	}
	return c.Magnet.InfoHash
}

func (c *Config) withDefaults() Config {
	cc := *c
	if cc.MaxPeers <= 0 {
		cc.MaxPeers = DefaultMaxPeers
	}
	if cc.PeerID == ([20]byte{}) {
		cc.PeerID = NewPeerID()
	}
	if cc.Logger == nil {
		cc.Logger = slog.Default()
	}
	if cc.ListenAddr == "" {
		cc.ListenAddr = ":0"
	}
	return cc
}

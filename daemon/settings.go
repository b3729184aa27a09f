package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// settingsFile is the daemon's settings in the data directory.
const settingsFile = "settings.json"

// maxSettingsSize bounds what openSettings reads: the file holds a small
// record per torrent.
const maxSettingsSize = 64 << 20

// settings are what session-set and torrent-set change and a restart
// keeps. Speeds are in kB/s (1000 bytes), as Transmission counts them.
type settings struct {
	DownloadDir           string  `json:"download-dir"`
	SpeedLimitDown        int64   `json:"speed-limit-down"`
	SpeedLimitDownEnabled bool    `json:"speed-limit-down-enabled"`
	SpeedLimitUp          int64   `json:"speed-limit-up"`
	SpeedLimitUpEnabled   bool    `json:"speed-limit-up-enabled"`
	AltSpeedDown          int64   `json:"alt-speed-down"`
	AltSpeedUp            int64   `json:"alt-speed-up"`
	AltSpeedEnabled       bool    `json:"alt-speed-enabled"`
	PeerLimitGlobal       int64   `json:"peer-limit-global"`
	PeerLimitPerTorrent   int64   `json:"peer-limit-per-torrent"`
	Encryption            string  `json:"encryption"`
	StartAddedTorrents    bool    `json:"start-added-torrents"`
	SeedRatioLimit        float64 `json:"seedRatioLimit"`
	SeedRatioLimited      bool    `json:"seedRatioLimited"`
	IdleSeedingLimit      int64   `json:"idle-seeding-limit"`
	IdleSeedingEnabled    bool    `json:"idle-seeding-limit-enabled"`

	Torrents   map[string]*torrentSettings `json:"torrents,omitempty"` // by info-hash in hex
	Cumulative cumulative                  `json:"cumulative-stats"`
}

// torrentSettings are one torrent's choices that the client does not keep.
type torrentSettings struct {
	DownloadLimit        int64    `json:"downloadLimit,omitempty"` // kB/s
	DownloadLimited      bool     `json:"downloadLimited,omitempty"`
	UploadLimit          int64    `json:"uploadLimit,omitempty"`
	UploadLimited        bool     `json:"uploadLimited,omitempty"`
	IgnoresSessionLimits bool     `json:"ignoresSessionLimits,omitempty"`
	BandwidthPriority    int64    `json:"bandwidthPriority,omitempty"`
	PeerLimit            int64    `json:"peer-limit,omitempty"`
	Labels               []string `json:"labels,omitempty"`
	SeedRatioLimit       float64  `json:"seedRatioLimit,omitempty"`
	SeedRatioMode        int64    `json:"seedRatioMode,omitempty"`
	SeedIdleLimit        int64    `json:"seedIdleLimit,omitempty"`
	SeedIdleMode         int64    `json:"seedIdleMode,omitempty"`
}

// cumulative are session-stats' "cumulative-stats", over every run.
type cumulative struct {
	UploadedBytes   int64 `json:"uploadedBytes"`
	DownloadedBytes int64 `json:"downloadedBytes"`
	FilesAdded      int64 `json:"filesAdded"`
	SessionCount    int64 `json:"sessionCount"`
	SecondsActive   int64 `json:"secondsActive"`
}

func defaultSettings(cfg Config) settings {
	return settings{
		DownloadDir:         cfg.DownloadDir,
		SpeedLimitDown:      100,
		SpeedLimitUp:        100,
		AltSpeedDown:        50,
		AltSpeedUp:          50,
		PeerLimitGlobal:     int64(cfg.MaxPeers),
		PeerLimitPerTorrent: int64(cfg.MaxPeersPerTorrent),
		Encryption:          "preferred",
		StartAddedTorrents:  true,
		SeedRatioLimit:      2,
		IdleSeedingLimit:    30,
	}
}

// settingsStore holds the settings and writes them to their file (when
// there is one) after every change: written to a temporary file, synced,
// then renamed over the old one, so a crash leaves one or the other.
type settingsStore struct {
	path string // "" keeps them in memory

	mu    sync.Mutex
	s     settings
	dirty bool
}

// openSettings reads dir's settings file; a missing one gives def. A file
// that does not parse is an error naming it (it is never overwritten
// silently).
func openSettings(dir string, def settings) (*settingsStore, error) {
	ss := &settingsStore{s: def}
	if dir == "" {
		return ss, nil
	}
	ss.path = filepath.Join(dir, settingsFile)
	f, err := os.Open(ss.path)
	if errors.Is(err, fs.ErrNotExist) {
		return ss, nil
	}
	if err != nil {
		return nil, fmt.Errorf("daemon: settings: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("daemon: settings: %w", err)
	}
	if fi.Size() > maxSettingsSize {
		return nil, fmt.Errorf("daemon: settings %s: larger than %d bytes", ss.path, maxSettingsSize)
	}
	dec := json.NewDecoder(f)
	if err := dec.Decode(&ss.s); err != nil {
		return nil, fmt.Errorf("daemon: settings %s does not parse (fix or remove it): %w", ss.path, err)
	}
	if ss.s.DownloadDir == "" || !filepath.IsAbs(ss.s.DownloadDir) {
		ss.s.DownloadDir = def.DownloadDir
	}
	return ss, nil
}

// get returns a copy of the settings (the torrent map is shared: read it
// through torrent).
func (ss *settingsStore) get() settings {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.s
}

// torrent returns a copy of the settings of the torrent with hex hash h.
func (ss *settingsStore) torrent(h string) torrentSettings {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if t := ss.s.Torrents[h]; t != nil {
		return *t
	}
	return torrentSettings{}
}

// update changes the settings with f; flush writes them (once per
// request, not once per torrent).
func (ss *settingsStore) update(f func(*settings)) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f(&ss.s)
	ss.dirty = true
}

// updateTorrent changes the settings of the torrent with hex hash h.
func (ss *settingsStore) updateTorrent(h string, f func(*torrentSettings)) {
	ss.update(func(s *settings) {
		if s.Torrents == nil {
			s.Torrents = map[string]*torrentSettings{}
		}
		t := s.Torrents[h]
		if t == nil {
			t = &torrentSettings{}
			s.Torrents[h] = t
		}
		f(t)
		if t.isZero() {
			delete(s.Torrents, h)
		}
	})
}

// forgetTorrent drops the settings of the torrent with hex hash h.
func (ss *settingsStore) forgetTorrent(h string) {
	ss.update(func(s *settings) { delete(s.Torrents, h) })
}

func (t *torrentSettings) isZero() bool {
	return t.DownloadLimit == 0 && !t.DownloadLimited && t.UploadLimit == 0 && !t.UploadLimited &&
		!t.IgnoresSessionLimits && t.BandwidthPriority == 0 && t.PeerLimit == 0 && len(t.Labels) == 0 &&
		t.SeedRatioLimit == 0 && t.SeedRatioMode == 0 && t.SeedIdleLimit == 0 && t.SeedIdleMode == 0
}

// flush writes the settings if they changed since the last write.
func (ss *settingsStore) flush() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.path == "" || !ss.dirty {
		return nil
	}
	b, err := json.MarshalIndent(&ss.s, "", "\t")
	if err != nil {
		return err
	}
	tmp := ss.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("daemon: writing settings: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, ss.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("daemon: writing settings: %w", err)
	}
	ss.dirty = false
	return nil
}

package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
)

// TestMagnetDownloadAndRestart: a torrent added from a bare info-hash gets
// its metadata and data from a seeder; after a restart it is back as a
// whole torrent (its info kept in the store), complete.
func TestMagnetDownloadAndRestart(t *testing.T) {
	fx := newFixture(t, 300_001, 200_003)
	sd := seeder(t, fx)
	data, dl := t.TempDir(), t.TempDir()
	c := newClient(t, data)
	tt, err := c.Add(context.Background(), Spec{Magnet: fmt.Sprintf("%x", fx.mi.InfoHash), Dir: dl})
	if err != nil {
		t.Fatal(err)
	}
	if st := tt.Stats(); st.State != Metadata || tt.MetaInfo() != nil || tt.Files() != nil {
		t.Fatalf("a new magnet: %v, metainfo %v", st.State, tt.MetaInfo() != nil)
	}
	tt.AddPeers(sd.Addr())
	await(t, tt)
	sameFiles(t, fx, dl)
	if mi := tt.MetaInfo(); mi == nil || mi.InfoHash != fx.mi.InfoHash || tt.Name() != "payload" {
		t.Fatalf("metainfo after download: %v, name %q", mi != nil, tt.Name())
	}
	c.Shutdown(context.Background())
	c2 := newClient(t, data)
	t2 := c2.Torrents()[0]
	await(t, t2)
	if t2.MetaInfo() == nil || t2.sessionStats().PiecesChecked != 0 {
		t.Fatalf("after restart: metainfo %v, %d pieces hashed", t2.MetaInfo() != nil, t2.sessionStats().PiecesChecked)
	}
}

// TestMagnetPendingAcrossRestart: a magnet whose metadata has not come yet
// is kept as a magnet; after a restart it fetches the metadata and the data
// once a peer shows up.
func TestMagnetPendingAcrossRestart(t *testing.T) {
	fx := newFixture(t, 150_000)
	data, dl := t.TempDir(), t.TempDir()
	c := newClient(t, data)
	mg := &metainfo.Magnet{InfoHash: fx.mi.InfoHash, HasV1: true, Name: "named"}
	if _, err := c.Add(context.Background(), Spec{Magnet: mg.String(), Dir: dl}); err != nil {
		t.Fatal(err)
	}
	c.Shutdown(context.Background())
	sd := seeder(t, fx)
	c2 := newClient(t, data)
	t2 := c2.Torrents()[0]
	if t2.Name() != "named" || t2.Stats().State != Metadata {
		t.Fatalf("restored magnet: %q, %v", t2.Name(), t2.Stats().State)
	}
	t2.AddPeers(sd.Addr())
	await(t, t2)
	sameFiles(t, fx, dl)
}

// TestMagnetMetadataOnly: MetadataOnly stops once the metadata is known;
// the torrent's .torrent can be written from it.
func TestMagnetMetadataOnly(t *testing.T) {
	fx := newFixture(t, 100_000)
	sd := seeder(t, fx)
	c := newClient(t, t.TempDir())
	tt, err := c.Add(context.Background(), Spec{Magnet: fmt.Sprintf("%x", fx.mi.InfoHash), Dir: t.TempDir(), MetadataOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	tt.AddPeers(sd.Addr())
	select {
	case <-tt.InfoReady():
	case <-time.After(20 * time.Second):
		t.Fatal("no metadata")
	}
	b, err := tt.MetaInfo().Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := metainfo.Parse(b)
	if err != nil || back.InfoHash != fx.mi.InfoHash {
		t.Fatalf("the saved torrent: %v", err)
	}
	if st := tt.Stats(); st.Downloaded > 64<<10 {
		t.Fatalf("downloaded %d bytes of data with MetadataOnly", st.Downloaded)
	}
}

// TestBadMagnet: a malformed magnet or a v2-only one is refused, naming
// the problem.
func TestBadMagnet(t *testing.T) {
	c := newClient(t, t.TempDir())
	for _, m := range []string{"magnet:?xt=urn:btih:zz", "magnet:?dn=x", "abc",
		"magnet:?xt=urn:btmh:1220" + fmt.Sprintf("%064x", 7)} {
		if _, err := c.Add(context.Background(), Spec{Magnet: m}); err == nil {
			t.Errorf("magnet %q accepted", m)
		}
	}
}

package session

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/transport"
)

// utpEnv is an environment whose listener has uTP on its port and whose
// dialer uses mode m.
func utpEnv(t *testing.T, m transport.Mode) *Env {
	t.Helper()
	ln, err := transport.Listen(t.Context(), transport.ListenConfig{Addr: "127.0.0.1:0", UTP: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	env := NewEnv(EnvConfig{Listener: ln, Transport: m})
	t.Cleanup(func() { ln.Close(); env.Close() }) // after the sessions stop
	return env
}

// TestSessionsOverUTP: a leecher dialling in UTP mode downloads a torrent
// from a seeder over uTP, plain and encrypted; both sides report the peer's
// transport as "utp". In Both mode it also picks uTP, and in TCP mode TCP.
func TestSessionsOverUTP(t *testing.T) {
	seedDir := t.TempDir()
	mi, _ := makeTorrent(t, seedDir, "u.bin", 64<<10, "", testFile{data: randomData(41, 1_500_000)})
	for _, tc := range []struct {
		mode   transport.Mode
		policy mse.Policy
		want   string
	}{{transport.UTP, mse.Off, "utp"}, {transport.UTP, mse.Require, "utp"}, {transport.Both, mse.Prefer, "utp"}, {transport.TCP, mse.Off, "tcp"}} {
		t.Run(tc.mode.String()+"-"+tc.policy.String(), func(t *testing.T) {
			seedEnv := utpEnv(t, transport.Both)
			seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true, Env: seedEnv})
			if _, _, err := seeder.Checked(t.Context()); err != nil {
				t.Fatal(err)
			}
			env := utpEnv(t, tc.mode)
			env.SetEncryption(tc.policy)
			dir := t.TempDir()
			addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), seeder.Addr().Port())
			// Slow enough that the peers are still connected when looked at.
			leecher := startSession(t, Config{Torrent: mi, Dir: dir, Env: env, Peers: []netip.AddrPort{addr}, DownloadRate: 1 << 20})
			for _, s := range []*Session{leecher, seeder} {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				st := waitStats(ctx, s, func(st Stats) bool { return len(st.PeerStats) == 1 })
				cancel()
				if len(st.PeerStats) != 1 || st.PeerStats[0].Transport != tc.want || st.PeerStats[0].Encrypted != (tc.policy == mse.Require) {
					t.Fatalf("peer stats %+v, want one peer over %s", st.PeerStats, tc.want)
				}
			}
			awaitOrFail(t, leecher, 60*time.Second)
			samePayload(t, mi, seedDir, dir)
		})
	}
}

// waitStats polls s's stats until ok or ctx ends, and returns the last.
func waitStats(ctx context.Context, s *Session, ok func(Stats) bool) Stats {
	for {
		st := s.Stats()
		if ok(st) || ctx.Err() != nil {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
}

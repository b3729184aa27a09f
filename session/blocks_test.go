package session

import (
	"testing"
)

// TestBlockBudget: the default budget is 768 blocks; a session whose
// pieces are large raises it to hold four of them, up to 4,096; a budget
// set in EnvConfig is never raised; grow never lowers a budget.
func TestBlockBudget(t *testing.T) {
	env := testEnv(t)
	if got := env.blocks.budget(); got != defaultInflightBlocks {
		t.Fatalf("default budget %d, want %d", got, defaultInflightBlocks)
	}
	dir := t.TempDir()
	small, _ := makeTorrent(t, dir, "small", 256<<10, "", testFile{data: randomData(1, 300<<10)})
	startSession(t, Config{Torrent: small, Dir: dir, Env: env, Seed: true})
	if got := env.blocks.budget(); got != defaultInflightBlocks {
		t.Fatalf("after 256 KiB pieces: budget %d, want %d", got, defaultInflightBlocks)
	}
	big, _ := makeTorrent(t, dir, "big", 8<<20, "", testFile{data: randomData(2, 9<<20)})
	startSession(t, Config{Torrent: big, Dir: dir, Env: env, Seed: true})
	if got := env.blocks.budget(); got != 4*(8<<20)/(16<<10) {
		t.Fatalf("after 8 MiB pieces: budget %d, want %d", got, 4*(8<<20)/(16<<10))
	}
	bp := newBlockPool(defaultInflightBlocks, ceilingInflightBlocks)
	bp.grow(1 << 20)
	if got := bp.budget(); got != ceilingInflightBlocks {
		t.Fatalf("grown past the ceiling: %d", got)
	}
	bp.grow(10)
	if got := bp.budget(); got != ceilingInflightBlocks {
		t.Fatalf("grow lowered the budget to %d", got)
	}
	fixed := NewEnv(EnvConfig{MaxInflightBlocks: 100})
	defer fixed.Close()
	fixed.blocks.grow(4096)
	if got := fixed.blocks.budget(); got != 100 {
		t.Fatalf("a configured budget raised to %d", got)
	}
}

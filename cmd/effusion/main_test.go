package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// binDir holds the effusion binary that the tests of the real process
// share; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "effusion-cmd-test-"); err != nil {
		panic(err)
	}
	// The default data directory (resume stores) of every command the
	// tests run, in process or as the binary: a temporary one, not the
	// user's. Tests that run commands at once pass --data-dir.
	data := filepath.Join(binDir, "xdg-data")
	os.Setenv("XDG_DATA_HOME", data)
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(binDir)
		os.Exit(code)
	}))
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// effusionBin builds the effusion binary once per test run and returns its
// path; tests that run the real process skip under -short.
func effusionBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(binDir, "effusion")
	buildOnce.Do(func() {
		buildOut, buildErr = exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return bin
}

package testpeer

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// JSDir is the directory of the JavaScript peers (package.json and the
// scripts); scripts/test.sh installs their pinned npm packages into its
// node_modules (npm install --prefix internal/testpeer/js).
func JSDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "js")
}

// NPM returns the path of node and of the script named script in JSDir,
// once node is in PATH and the npm package pkg is installed there; else it
// ends the test through Missing.
func NPM(t testing.TB, pkg, script string) (node, path string) {
	t.Helper()
	node = Require(t, "node")
	dir := JSDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
		Missing(t, "npm package "+pkg+" (npm install --prefix "+dir+")", err)
	}
	if _, err := exec.LookPath(node); err != nil {
		Missing(t, "node", err)
	}
	return node, filepath.Join(dir, script)
}

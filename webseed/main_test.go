package webseed

import (
	"testing"

	"go.uber.org/goleak"
)

// Seeds keep connections alive: every test must close them all. The
// effusion binary that the interop tests build is removed at the end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(cleanupM{m}) }

type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	defer removeBuilt()
	return c.m.Run()
}

package webseed

import (
	"testing"

	"go.uber.org/goleak"
)

// Seeds keep connections alive: every test must close them all.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package metainfo

import (
	"testing"

	"go.uber.org/goleak"
)

// Build starts hashing workers; every test must leave none behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

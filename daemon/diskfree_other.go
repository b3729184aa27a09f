//go:build !(linux || darwin)

package daemon

// diskFree cannot read free space on this system.
func diskFree(string) (uint64, bool) { return 0, false }

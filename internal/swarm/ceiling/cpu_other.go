//go:build !unix

package ceiling

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }

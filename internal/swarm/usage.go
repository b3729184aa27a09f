package swarm

import "time"

// usage is the process's resource use at one moment.
type usage struct {
	cpu    time.Duration // user + system
	maxRSS int64         // peak resident set size so far, in bytes
}

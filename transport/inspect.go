package transport

import "github.com/effusion-bt/effusion/statem"

// Machine returns the state machine of the listener's acceptor pool, for
// tools that show machines (status, log, live trace).
func (l *Listener) Machine() statem.Inspectable { return l.pool.Machine() }

package acceptor

import "github.com/effusion-bt/effusion/statem"

// Machine returns the pool's state machine for tools that show machines
// (status, log, live trace): inspect it, it cannot be stopped through
// this.
func (p *Pool) Machine() statem.Inspectable { return p.m }

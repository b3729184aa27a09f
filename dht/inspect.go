package dht

import "github.com/effusion-bt/effusion/statem"

// Machine returns the announcer's state machine for tools that show
// machines (status, log, live trace): inspect it, it cannot be stopped
// through this.
func (a *Announcer) Machine() statem.Inspectable { return a.m }

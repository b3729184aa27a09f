// Package daemon is effusion's long-running front end: over one
// client.Client it serves Transmission's RPC (so that transmission-remote,
// Transmission's Python and JavaScript clients and the media managers that
// use them work unchanged), a web UI, a live view of every state machine
// in the process, and Prometheus metrics.
package daemon

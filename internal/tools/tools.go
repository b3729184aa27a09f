//go:build tools

// Package tools pins the project's dependencies while the packages that use
// them land; it is never built.
package tools

import (
	_ "github.com/anacrolix/torrent/bencode"
	_ "github.com/cenkalti/backoff/v5"
	_ "github.com/spf13/cobra"
	_ "github.com/vbauerster/mpb/v8"
	_ "go.etcd.io/bbolt"
	_ "go.uber.org/goleak"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/time/rate"
)

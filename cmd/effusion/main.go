// Command effusion downloads, seeds and creates BitTorrent torrents, runs a
// tracker, and demonstrates a whole swarm on loopback.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries the process exit status a subcommand asks for.
// Status 2 means bad input (a malformed torrent, a bad flag); 1 any other failure.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// badInput wraps err so that effusion exits with status 2.
func badInput(err error) error { return &exitError{code: 2, err: err} }

var rootCmd = &cobra.Command{
	Use:           "effusion",
	Short:         "A BitTorrent engine: download, seed, create, track",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "effusion:", err)
		os.Exit(exitCode(err))
	}
}

// exitCode is the process exit status for a command's error: the one an
// exitError asks for, else 1 (0 for no error).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

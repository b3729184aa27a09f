// Command effusion downloads, seeds and creates BitTorrent torrents, runs a
// tracker, and demonstrates a whole swarm on loopback.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

// newRootCmd is the whole command tree, fresh (flags unset).
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "effusion COMMAND",
		Short:         "A BitTorrent engine: download, seed, create, track",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newCreateCmd(), newInfoCmd(), newDownloadCmd(), newSeedCmd(), newSwarmCmd(), newTrackerCmd(), newDHTCmd(), newDaemonCmd(), newStreamCmd())
	root.SetFlagErrorFunc(flagError)
	return root
}

func main() {
	os.Exit(execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs the command line args and returns the exit status, having
// printed an error as one line "effusion: ..." on stderr. Errors cobra
// returns before a command runs (an unknown command or flag, a bad flag
// value, a wrong number of arguments) are usage errors: status 2, with the
// command's usage line.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ran := false
	root.PersistentPreRun = func(*cobra.Command, []string) { ran = true }
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	if !ran {
		err = badInput(fmt.Errorf("%w (usage: %s)", err, cmd.UseLine()))
	}
	fmt.Fprintln(stderr, "effusion:", err)
	return exitCode(err)
}

// flagError rewords a bad flag value as "--port "abc": not an integer"
// (pflag's own message quotes strconv's), and marks every flag error as
// bad input.
func flagError(_ *cobra.Command, err error) error {
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) {
		f := ive.GetFlag()
		what := "not a valid " + f.Value.Type()
		switch f.Value.Type() {
		case "int", "int64", "uint", "uint16", "uint32", "uint64":
			what = "not an integer"
		case "duration":
			what = "not a duration (such as 90s, 30m or 1h)"
		case "bool":
			what = "not true or false"
		}
		err = fmt.Errorf("--%s %q: %s", f.Name, ive.GetValue(), what)
	}
	return badInput(err)
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

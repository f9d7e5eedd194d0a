// Command chaoscheck runs consistency tests against database clusters under
// faults and checks the histories they record.
//
// Exit codes (Jepsen's convention): 0 valid, 1 anomalies found, 2 unknown,
// 254 bad arguments or input, 255 the test could not run; 130 (143 for
// SIGTERM) a run abandoned by a second interrupt.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitValid    = 0
	exitInvalid  = 1
	exitUnknown  = 2
	exitBadInput = 254
	exitCrashed  = 255
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// badInput marks err as bad arguments or input (exit 254).
func badInput(err error) error { return &exitError{code: exitBadInput, err: err} }

// couldNotRun marks err as a test that could not run (exit 255).
func couldNotRun(err error) error { return &exitError{code: exitCrashed, err: err} }

// verdictCode is a silent exit with the verdict's code.
type verdictCode int

func (v verdictCode) Error() string { return fmt.Sprintf("exit %d", int(v)) }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int { return runWith(args, os.Stdout, os.Stderr) }

// runWith runs the command line args with the given standard output and
// error, and returns the exit code.
func runWith(args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return exitValid
	}
	var vc verdictCode
	if errors.As(err, &vc) {
		return int(vc)
	}
	fmt.Fprintln(stderr, "chaoscheck:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// Anything else cobra returns is about the command line.
	return exitBadInput
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "chaoscheck",
		Short: "Jepsen-style fault injection and consistency checking",
		Long: `chaoscheck drives concurrent clients against a database cluster while a
nemesis partitions the network, kills or pauses nodes and skews clocks,
records every operation, and checks the history for anomalies
(linearizability, lost writes, read-your-writes, lost updates, ...).

Exit codes: 0 valid, 1 anomalies found, 2 unknown, 254 bad arguments or
input, 255 the test could not run, 130 (143 for SIGTERM) a test abandoned by
a second Ctrl-C (no verdict; a line says what is left, chaoscheck heal
removes it).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput(err) })
	root.AddCommand(newTestCmd(), newCheckCmd(), newExportCmd(), newReportCmd(), newServeCmd(), newHealCmd(), newClusterCmd(), newIsolationCmd(), newImagesCmd(), newSuiteCmd())
	return root
}

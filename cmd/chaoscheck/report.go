package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/chaoscheck/chaoscheck/reports"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// newReportCmd is `chaoscheck report DIR|FILE`.
func newReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report DIR|FILE",
		Short: "Write report.html and junit.xml for a run directory or a checked history file",
		Long: `Write the human report (report.html: one self-contained page with the
verdict, an explanation of every anomaly class found with its smallest
witness, a timeline of operations with fault bands, latency, throughput and
per-node charts) and junit.xml (one test case per check) for a run.

DIR is a run directory (store/<name>/<timestamp>/, holding results.json,
history.jsonl and test.json). FILE is a history file that
"chaoscheck check FILE" judged: its results.json must be beside it, and the
report is written beside it too. Prints the path of report.html.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := writeReport(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			return nil
		},
	}
}

// writeReport writes the report of a run directory or of a checked history
// file and returns the path of report.html.
func writeReport(arg string) (string, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return "", badInput(fmt.Errorf("report: %w", err))
	}
	var (
		dir string
		in  reports.Input
	)
	if st.IsDir() {
		dir = arg
		if _, err := os.Stat(filepath.Join(dir, rundir.ResultsFile)); err != nil {
			return "", badInput(fmt.Errorf("%s is not a run directory: it has no %s", dir, rundir.ResultsFile))
		}
		in, err = reports.LoadRun(dir)
	} else {
		dir = filepath.Dir(arg)
		if _, err := os.Stat(filepath.Join(dir, rundir.ResultsFile)); errors.Is(err, fs.ErrNotExist) {
			return "", badInput(fmt.Errorf("no %s beside %s; run chaoscheck check %s first", rundir.ResultsFile, arg, arg))
		}
		in, err = reports.LoadChecked(dir, arg)
	}
	if err != nil {
		return "", badInput(err)
	}
	if err := reports.WriteFiles(dir, in); err != nil {
		if errors.Is(err, reports.ErrHistory) {
			return "", badInput(err) // a bad history file, read while the report is drawn
		}
		return "", couldNotRun(err)
	}
	return filepath.Join(dir, rundir.ReportFile), nil
}

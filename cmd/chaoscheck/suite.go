package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/suite"
	"github.com/chaoscheck/chaoscheck/targets/all"
)

func newSuiteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "suite",
		Short: "Run a suite of tests with expectations (for CI): chaoscheck suite run FILE",
	}
	cmd.AddCommand(newSuiteRunCmd())
	return cmd
}

func newSuiteRunCmd() *cobra.Command {
	var (
		store string
		only  []string
		set   []string
		list  bool
	)
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run every case of a suite file and check its expectations",
		Long: `Run a suite: a YAML file of named cases, each a set of chaoscheck test
settings (the flags, without their dashes) and what its run must show
(valid, invalid, anomaly: KIND, no-anomaly: KIND, or a bound on a
measurement such as p99-write-latency: "< 50ms"); a case with matrix:
runs once per combination of values. The schema is in docs/suites.md.

Every case's settings are checked as chaoscheck test checks its flags,
before anything is deployed: an error names the file and line (exit 254).
Consecutive cases that deploy the same cluster share one deployment, its
data reset between them (targets that cannot reset are redeployed).

The suite directory <store>/<suite>/<timestamp>/ holds every run's
directory, summary.html (configurations × faults), junit.xml (a test case
per cell) and results.json. Progress goes to standard error.

Exit codes: 0 every expectation held, 1 some did not, 254 a bad suite
file or arguments, 255 the suite or some cell could not run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := suite.ReadFile(args[0])
			if err != nil {
				return badInput(err)
			}
			pl, err := suite.NewPlan(f, buildSuiteCell, suite.PlanOptions{Only: only, Set: set})
			if err != nil {
				return badInput(err)
			}
			if list {
				printPlan(cmd.OutOrStdout(), pl)
				return nil
			}
			ctx, stop := interruptContext(cmd.ErrOrStderr())
			defer stop()
			res, err := suite.Run(ctx, pl, suite.Options{Store: store, Progress: cmd.ErrOrStderr()})
			if err != nil {
				if res == nil || errors.Is(err, suite.ErrCouldNotRun) {
					return couldNotRun(err)
				}
				return couldNotRun(fmt.Errorf("write the suite's results: %w", err))
			}
			printSuite(cmd.OutOrStdout(), res)
			switch {
			case res.NotRun > 0:
				return verdictCode(exitCrashed)
			case res.NotHeld > 0:
				return verdictCode(exitInvalid)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&store, "store", "store", "store directory; the suite's directory is <store>/<suite>/<timestamp>/")
	fl.StringSliceVar(&only, "only", nil, "run only these cases (a case's name: all its cells) or cells")
	fl.StringArrayVar(&set, "set", nil, "KEY=VALUE: override a setting of every cell (e.g. --set time-limit=2s for a short CI run)")
	fl.BoolVar(&list, "list", false, "list the cells, their tests, expectations and shared deployments, and run nothing")
	return cmd
}

// buildSuiteCell builds a cell's test from its settings exactly as
// chaoscheck test builds one from its flags (the same parsing, checks
// and refusals).
func buildSuiteCell(args []string) (suite.Built, error) {
	var tf testFlags
	cmd := testCmd(&tf)
	fs := cmd.Flags()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return suite.Built{}, err
	}
	if fs.NArg() > 0 {
		return suite.Built{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg, err := tf.config(cmd)
	if err != nil {
		return suite.Built{}, err
	}
	cfg.CommandLine = append([]string{"chaoscheck", "test"}, args...)
	if !fs.Changed("seed") {
		cfg.CommandLine = append(cfg.CommandLine, fmt.Sprintf("--seed=%d", cfg.Seed))
	}
	target := cfg.Target
	return suite.Built{
		Config:    cfg,
		DeployKey: deployKey(fs, tf.target.name),
		Probe:     func(ctx context.Context) error { return probeTarget(ctx, target) },
	}, nil
}

// deployKey is what decides the cluster a test deploys: the target, its
// runtime and image, --keep-data and every target flag given.
func deployKey(fs *pflag.FlagSet, target string) string {
	owners := all.Registry().Owners()
	parts := []string{"target=" + target}
	fs.Visit(func(f *pflag.Flag) {
		if _, ok := owners[f.Name]; ok || f.Name == "runtime" || f.Name == "image" || f.Name == "keep-data" {
			parts = append(parts, f.Name+"="+f.Value.String())
		}
	})
	sort.Strings(parts[1:])
	return strings.Join(parts, " ")
}

// printPlan is --list.
func printPlan(w io.Writer, pl *suite.Plan) {
	fmt.Fprintf(w, "suite %s (%s): %d cells\n", pl.File.Name, pl.File.Path, len(pl.Cells))
	for i, c := range pl.Cells {
		share := "deploys its cluster"
		if c.Group != i {
			share = "shares the cluster of " + pl.Cells[c.Group].Name + " (data reset)"
		}
		fmt.Fprintf(w, "%2d. %s  [%s | nemesis %s]  %s\n", i+1, c.Name, c.Row, c.Column, share)
		fmt.Fprintf(w, "      chaoscheck test %s\n", strings.Join(c.Args, " "))
		exp := make([]string, len(c.Expect))
		for j, e := range c.Expect {
			exp[j] = e.String()
		}
		fmt.Fprintf(w, "      expect: %s\n", strings.Join(exp, "; "))
	}
}

// printSuite prints one line per cell and where the output is.
func printSuite(w io.Writer, res *suite.Results) {
	fmt.Fprintln(w)
	for _, c := range res.Cells {
		word := map[suite.Status]string{suite.StatusHeld: "held    ", suite.StatusNotHeld: "NOT HELD", suite.StatusNotRun: "NOT RUN "}[c.Status]
		verdict := string(c.Verdict)
		if verdict == "" {
			verdict = "-"
		}
		fmt.Fprintf(w, "%s  %-40s  %-8s  %s\n", word, c.Name, verdict, time.Duration(c.DurationNS).Round(100*time.Millisecond))
		for _, e := range c.Expectations {
			mark := "ok"
			if !e.Held {
				mark = "NO"
			}
			fmt.Fprintf(w, "            %s expected %s; seen %s\n", mark, e.Expected, e.Seen)
		}
		for _, e := range c.Errors {
			fmt.Fprintf(w, "            %s\n", e)
		}
	}
	fmt.Fprintf(w, "\n%d held, %d not held, %d not run in %s\n", res.Held, res.NotHeld, res.NotRun, time.Duration(res.DurationNS).Round(time.Second))
	fmt.Fprintf(w, "summary: %s\njunit: %s\nresults: %s\n", filepath.Join(res.Dir, suite.SummaryFile), filepath.Join(res.Dir, suite.JUnitFile), filepath.Join(res.Dir, suite.ResultsFile))
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/runtimes"
	"github.com/chaoscheck/chaoscheck/isolation"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/all"
)

// isolationTimeout bounds a whole `chaoscheck isolation` run: deploying
// the server, the probes and the teardown.
const isolationTimeout = 5 * time.Minute

func newIsolationCmd() *cobra.Command {
	var (
		target, runtime string
		asJSON          bool
		levels          []string
	)
	rts := runtimes.Registry()
	cmd := &cobra.Command{
		Use:   "isolation",
		Short: "Run Hermitage's isolation probes against a real database and print what each level prevents",
		Long: `Deploys one server of the target on the runtime, runs the classic two- and
three-session interleavings of Hermitage (github.com/ept/hermitage) at each
isolation level (G0, G1a, G1b, G1c, OTV, PMP, P4, G-single, G2-item, G2) and
prints, for each level, which anomalies it prevents and which it allows, with
the reads or the refusals that show it. Deterministic: after every step it
waits until each statement in flight has finished or waits for a lock.

--json prints {"read-committed": {"G0": "prevented", ...}, ...}.
Exit codes: 0 the table was measured, 254 bad arguments (a target with no
probes), 255 the probes could not run (a probe whose results make no sense is
an error, never "prevented").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, ok := all.Registry().Lookup(target)
			if !ok {
				return badInput(fmt.Errorf("unknown target %q (available: %s)", target, strings.Join(all.Registry().Names(), ", ")))
			}
			if reg.Isolation == nil {
				var have []string
				for _, r := range all.Registry() {
					if r.Isolation != nil {
						have = append(have, r.Name)
					}
				}
				return badInput(fmt.Errorf("--target %s has no isolation probes (they run against: %s)", target, strings.Join(have, ", ")))
			}
			var ls []isolation.Level
			for _, l := range levels {
				lv := isolation.Level(strings.TrimSpace(l))
				known := false
				for _, k := range isolation.Levels {
					known = known || k == lv
				}
				if !known {
					return badInput(fmt.Errorf("--level %q: want read-committed, repeatable-read or serializable", l))
				}
				ls = append(ls, lv)
			}
			rt, err := rts.New(runtime, cluster.RuntimeOptions{Target: reg.Name, Needs: reg.NodeNeeds, DefaultImage: reg.Image})
			if err != nil {
				return badInput(fmt.Errorf("--runtime: %w", err))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, isolationTimeout)
			defer cancel()
			rep, err := reg.Isolation(ctx, targets.Common{Runtime: rt}, ls)
			if err != nil {
				return couldNotRun(err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return rep.Table.WriteJSON(w)
			}
			fmt.Fprintf(w, "%s: Hermitage's probes ran in %v (the server started in %v)\n\n", rep.Database,
				rep.Probes.Round(10*time.Millisecond), rep.Deploy.Round(10*time.Millisecond))
			if err := rep.Table.WriteText(w); err != nil {
				return err
			}
			if reg.IsolationReference != nil {
				ref := reg.IsolationReference()
				got := rep.Table.Outcomes()
				// Compare only the levels probed.
				for l := range ref {
					if _, ok := got[l]; !ok {
						delete(ref, l)
					}
				}
				cells := 0
				for _, m := range ref {
					cells += len(m)
				}
				if d := isolation.Diff(got, ref); len(d) > 0 {
					fmt.Fprintf(w, "\ndiffers from Hermitage's published table for %s in %d of %d cells:\n  %s\n", target, len(d), cells, strings.Join(d, "\n  "))
				} else {
					fmt.Fprintf(w, "\nagrees with Hermitage's published table for %s on all %d cells\n", target, cells)
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&target, "target", "postgres", "database to probe")
	fl.StringVar(&runtime, "runtime", rts.Default(), "where the server runs: "+strings.Join(rts.Names(), ", "))
	fl.BoolVar(&asJSON, "json", false, `print {"level": {"anomaly": "prevented"|"allowed"}} only`)
	fl.StringSliceVar(&levels, "level", []string{"read-committed", "repeatable-read", "serializable"}, "isolation levels to probe")
	return cmd
}

package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/chaoscheck/chaoscheck/cluster/docker"
	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/internal/scratch"
)

func newHealCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "heal",
		Short: "Remove what a killed run left on this machine (processes, cgroups, namespaces, nftables rules, state directories)",
		Long: `Reads the journals of local-cluster runs (written before every resource is
created) and removes whatever a run that did not end cleanly left behind:
processes (only if their start time still matches) and every process in
the run's cgroups (helper commands such as initdb included), cgroups,
nftables tables, veths, network namespaces, and the run's state directory
(unless the run kept it with --keep-data). Journals of runs whose
controller process is still alive are left alone.

Before removing a state directory, heal checks that no process still uses
it (an argument naming it, or its working directory inside it). If one is
left after a few seconds, heal names it, keeps the journal and the
directory, and fails (exit 255): it never reports success while something
of a run is still alive.

When a Docker daemon answers, heal also removes the containers, networks
and volumes (labelled chaoscheck.run) of Docker-runtime runs whose
controller process is dead; their partition rules lived in the
containers' network namespaces and go with them. Without a daemon it
says so in one line and goes on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := local.HealAll(cmd.Context(), dir)
			w := cmd.OutOrStdout()
			for _, r := range rep.Removed {
				fmt.Fprintln(w, "removed", r)
			}
			for _, s := range rep.Skipped {
				fmt.Fprintln(w, "skipped (its run is still alive):", s)
			}
			drep, derr := docker.HealAll(cmd.Context())
			for _, r := range drep.Removed {
				fmt.Fprintln(w, "removed", r)
			}
			for _, s := range drep.Skipped {
				fmt.Fprintln(w, "skipped (its run is still alive): docker run", s)
			}
			// The checker's scratch (a history split per key) of runs
			// killed while they checked, journaled where the run could
			// write: the given directory, the default, or the user's.
			var serr error
			nscratch := 0
			for _, jd := range scratchJournalDirs(dir) {
				removed, err := scratch.HealAll(jd)
				for _, r := range removed {
					fmt.Fprintln(w, "removed", r)
				}
				nscratch += len(removed)
				serr = errors.Join(serr, err)
			}
			if errors.Is(derr, docker.ErrNoDaemon) {
				fmt.Fprintln(w, "docker: no daemon answers; no containers to heal")
				derr = nil
			}
			if err := errors.Join(err, derr, serr); err != nil {
				return couldNotRun(fmt.Errorf("heal: %w", err))
			}
			if len(rep.Journals) == 0 && len(drep.Runs) == 0 && nscratch == 0 {
				fmt.Fprintln(w, "nothing to heal")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "journal-dir", local.DefaultJournalDir, "where local-cluster journals are kept")
	return cmd
}

// scratchJournalDirs are the directories where runs journal their
// scratch: dir, the default, and this user's fallback, each once.
func scratchJournalDirs(dir string) []string {
	var out []string
	for _, d := range []string{dir, scratch.DefaultJournalDir, scratch.UserJournalDir()} {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

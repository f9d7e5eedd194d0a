package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/chaoscheck/chaoscheck/cluster/docker"
	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/targets"
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Start, list and remove clusters by hand (local: network namespaces; docker: containers; root)",
	}
	cmd.AddCommand(newClusterUpCmd(), newClusterStatusCmd(), newClusterDownCmd())
	return cmd
}

func newClusterUpCmd() *cobra.Command {
	var (
		tf       targetFlags
		seed     int64
		keepData bool
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Deploy a target's cluster and keep it running until Ctrl-C",
		Long: `Deploys the target's nodes exactly as chaoscheck test does (for example
chaoscheck cluster up --target postgres --nodes 3 --replication sync) and
keeps them running in the foreground, so you can connect to the node
addresses it prints. Ctrl-C (or chaoscheck cluster down from another
terminal) stops every node and removes the namespaces.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, err := tf.build(seed)
			if err != nil {
				return badInput(err)
			}
			if err := applyKeepData(keepData, target); err != nil {
				return badInput(err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := probeTarget(ctx, target); err != nil {
				return err
			}
			if _, err := tf.chooseImage(ctx, cmd.ErrOrStderr()); err != nil {
				return couldNotRun(err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "deploying %s...\n", target.Name())
			dctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			dep, err := target.Deploy(dctx)
			cancel()
			if err != nil {
				return couldNotRun(fmt.Errorf("deploy %s: %w", target.Name(), err))
			}
			defer func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if err := dep.Close(cctx); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning: close:", err)
				}
				fmt.Fprintln(w, "cluster stopped and removed")
				if k, ok := dep.(targets.KeptData); ok && k.KeptData() != "" {
					fmt.Fprintln(w, "data kept (--keep-data):", k.KeptData())
				}
			}()
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, s := range dep.Describe() {
				fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Value)
			}
			tw.Flush()
			printAddresses(w, dep)
			fmt.Fprintln(w, "cluster up; Ctrl-C to stop it")
			<-ctx.Done()
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&seed, "seed", 1, "seed recorded by the target")
	fl.BoolVar(&keepData, "keep-data", false, "keep the state directory (data directories, logs) after the cluster is stopped")
	tf.define(fl, "postgres", func(r targets.Registration) string {
		if r.InProcess {
			return "its nodes live inside a test run; cluster up needs a real target"
		}
		return ""
	})
	return cmd
}

// printAddresses prints where clients reach each node, one line per node:
// "n1  postgres 10.80.0.11:5432", or says that the deployment does not
// tell.
func printAddresses(w io.Writer, dep targets.Deployment) {
	a, ok := dep.(targets.Addresser)
	if !ok {
		fmt.Fprintln(w, "node addresses: not reported by this target")
		return
	}
	addrs := a.Addresses()
	var nodes []string
	byNode := map[string][]string{}
	for _, na := range addrs {
		if _, seen := byNode[na.Node]; !seen {
			nodes = append(nodes, na.Node)
		}
		byNode[na.Node] = append(byNode[na.Node], na.Service+" "+na.Addr.String())
	}
	fmt.Fprintln(w, "node addresses:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\n", n, strings.Join(byNode[n], "\t"))
	}
	tw.Flush()
}

func newClusterStatusCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List clusters (local, and docker when a daemon answers): live ones and leftovers of crashed runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := local.List(dir)
			if err != nil {
				return couldNotRun(err)
			}
			w := cmd.OutOrStdout()
			if len(cs) == 0 {
				fmt.Fprintln(w, "no local cluster")
			} else {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "PREFIX\tSTATE\tOWNER PID\tSUBNET\tNODES\tPROCESSES\tSTATE DIR")
				for _, c := range cs {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\n", c.Prefix, runState(c.OwnerAlive), c.OwnerPID, c.Subnet, len(c.Nodes), c.Processes, c.StateDir)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			ds, err := docker.List(cmd.Context())
			if errors.Is(err, docker.ErrNoDaemon) {
				fmt.Fprintln(w, "docker: no daemon answers; no docker cluster")
				return nil
			}
			if err != nil {
				return couldNotRun(err)
			}
			if len(ds) == 0 {
				fmt.Fprintln(w, "no docker cluster")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "DOCKER RUN\tSTATE\tOWNER PID\tSUBNET\tNODES\tRUNNING\tIMAGE")
			for _, r := range ds {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\n", r.ID, runState(r.OwnerAlive), r.OwnerPID, r.Subnet, len(r.Nodes), r.Running, r.Image)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&dir, "journal-dir", local.DefaultJournalDir, "where local-cluster journals are kept")
	return cmd
}

// startedByClusterUp reports whether pid is a `chaoscheck cluster up`
// process (and not, say, a running test, which cluster down must not
// stop unless told --all).
func startedByClusterUp(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "cluster" && args[i+1] == "up" {
			return true
		}
	}
	return false
}

func newClusterDownCmd() *cobra.Command {
	var dir string
	var all bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the clusters of chaoscheck cluster up, local and docker (--all: every run's), then remove leftovers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			runs, err := listRuns(cmd.Context(), dir)
			if err != nil {
				return couldNotRun(err)
			}
			w := cmd.OutOrStdout()
			stopping := map[int]bool{}
			for _, c := range runs {
				if !c.alive {
					continue
				}
				if !all && !startedByClusterUp(c.pid) {
					fmt.Fprintf(w, "leaving cluster %s of running process %d alone (not cluster up; --all stops it)\n", c.name, c.pid)
					continue
				}
				stopping[c.pid] = true
				fmt.Fprintf(w, "asking process %d (cluster %s) to stop\n", c.pid, c.name)
				if err := syscall.Kill(c.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
					return couldNotRun(fmt.Errorf("signal %d: %w", c.pid, err))
				}
			}
			deadline := time.Now().Add(time.Minute)
			for {
				runs, err := listRuns(cmd.Context(), dir)
				if err != nil {
					return couldNotRun(err)
				}
				live := 0
				for _, c := range runs {
					if c.alive && stopping[c.pid] {
						live++
					}
				}
				if live == 0 {
					break
				}
				if time.Now().After(deadline) {
					return couldNotRun(fmt.Errorf("%d run(s) did not stop within a minute of SIGTERM", live))
				}
				time.Sleep(100 * time.Millisecond)
			}
			rep, err := local.HealAll(cmd.Context(), dir)
			for _, r := range rep.Removed {
				fmt.Fprintln(w, "removed", r)
			}
			if err != nil {
				return couldNotRun(err)
			}
			drep, err := docker.HealAll(cmd.Context())
			for _, r := range drep.Removed {
				fmt.Fprintln(w, "removed", r)
			}
			if err != nil && !errors.Is(err, docker.ErrNoDaemon) {
				return couldNotRun(err)
			}
			fmt.Fprintln(w, "done")
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "journal-dir", local.DefaultJournalDir, "where local-cluster journals are kept")
	cmd.Flags().BoolVar(&all, "all", false, "also stop clusters of running tests")
	return cmd
}

// runState is a run's STATE column.
func runState(alive bool) string {
	if alive {
		return "live"
	}
	return "leftover (run chaoscheck heal)"
}

// ownedRun is a cluster of either runtime and the process that owns it.
type ownedRun struct {
	name  string
	pid   int
	alive bool
}

// listRuns lists the local clusters (journals in dir) and the docker
// runs (when a daemon answers).
func listRuns(ctx context.Context, dir string) ([]ownedRun, error) {
	cs, err := local.List(dir)
	if err != nil {
		return nil, err
	}
	var out []ownedRun
	for _, c := range cs {
		out = append(out, ownedRun{c.Prefix, c.OwnerPID, c.OwnerAlive})
	}
	ds, err := docker.List(ctx)
	if err != nil && !errors.Is(err, docker.ErrNoDaemon) {
		return nil, err
	}
	for _, r := range ds {
		out = append(out, ownedRun{r.ID, r.OwnerPID, r.OwnerAlive})
	}
	return out, nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// fastTeardownTimeout bounds the teardown after a second interrupt.
const fastTeardownTimeout = 10 * time.Second

// interruptContext returns a context that the first SIGINT or SIGTERM
// cancels: the run stops its clients, heals every fault, then checks and
// reports what it recorded. A second signal abandons the run: the local
// clusters of this process are torn down fast (cgroups killed, namespaces
// removed, bounded by fastTeardownTimeout), one line says what is left on
// the machine and that `chaoscheck heal` removes it, and the process
// exits 128+signal (130 for Ctrl-C, 143 for SIGTERM) with no verdict. A
// third signal during that teardown exits at once, with the same line.
// stop releases the signals; once the run is being abandoned it never
// returns (the abandoning goroutine exits the process), so the run's own
// exit code never replaces 130.
func interruptContext(errOut io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigc := make(chan os.Signal, 3)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	stopped := make(chan struct{})
	// mu orders "the run ended" (stop) against "the run is abandoned".
	var mu sync.Mutex
	ended, abandoning := false, false
	go func() {
		select {
		case <-sigc:
		case <-stopped:
			return
		}
		cancel()
		fmt.Fprintln(errOut, "chaoscheck: interrupted: stopping clients, healing faults, then checking what was recorded (interrupt again to abandon the run)")
		var second os.Signal
		select {
		case second = <-sigc:
		case <-stopped:
			return
		}
		mu.Lock()
		if ended {
			mu.Unlock()
			return // the run finished first: its own exit code stands
		}
		abandoning = true
		mu.Unlock()
		code := 128 + int(second.(syscall.Signal))
		fmt.Fprintln(errOut, "chaoscheck: interrupted again: abandoning the run, fast teardown (interrupt once more to exit at once)")
		tctx, tcancel := context.WithTimeout(context.Background(), fastTeardownTimeout)
		done := make(chan error, 1)
		go func() {
			_, err := local.TeardownOwn(tctx, "")
			done <- err
		}()
		var terr error
		select {
		case terr = <-done:
		case <-sigc:
			terr = fmt.Errorf("teardown interrupted")
		}
		tcancel()
		fmt.Fprintln(errOut, leftLine(terr, code))
		os.Exit(code)
	}()
	return ctx, func() {
		mu.Lock()
		if abandoning {
			mu.Unlock()
			select {} // the abandoning goroutine exits the process
		}
		ended = true
		mu.Unlock()
		signal.Stop(sigc)
		close(stopped)
		cancel()
	}
}

// leftLine is the one line printed when a run is abandoned: what of this
// process's clusters is still on the machine, and how to remove it.
func leftLine(teardownErr error, code int) string {
	head := fmt.Sprintf("chaoscheck: run abandoned without a verdict (exit %d; the history so far is in the run directory)", code)
	cs, err := local.List("")
	if err != nil {
		return head + fmt.Sprintf("; could not list what is left (%v): run `chaoscheck heal` to remove it", err)
	}
	var left []string
	for _, c := range cs {
		if c.OwnerPID != os.Getpid() {
			continue
		}
		what := []string{fmt.Sprintf("%d namespaces", len(c.Nodes)+1), fmt.Sprintf("%d processes", c.Processes), "cgroups"}
		if c.StateDir != "" {
			if _, err := os.Stat(c.StateDir); err == nil {
				what = append(what, "state dir "+c.StateDir)
			}
		}
		left = append(left, fmt.Sprintf("cluster %s (%s, journal %s)", c.Prefix, strings.Join(what, ", "), c.Journal))
	}
	if len(left) == 0 {
		return head + "; nothing of its cluster is left on this machine (nothing for `chaoscheck heal` to remove)"
	}
	why := ""
	if teardownErr != nil {
		why = fmt.Sprintf(" (fast teardown: %v)", teardownErr)
	}
	return head + "; left on this machine" + why + ": " + strings.Join(left, "; ") + "; `chaoscheck heal` removes it"
}

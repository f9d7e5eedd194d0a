// Command histstat prints the soak figures of a history file (see package
// soak): go run ./internal/soak/histstat -time-limit 10m store/.../history.jsonl
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/chaoscheck/chaoscheck/internal/soak"
)

func main() {
	limit := flag.Duration("time-limit", 0, "the run's --time-limit")
	flag.Parse()
	if flag.NArg() != 1 || *limit <= 0 {
		fmt.Fprintln(os.Stderr, "usage: histstat -time-limit D history.jsonl")
		os.Exit(254)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(255)
	}
	defer f.Close()
	rep, err := soak.Measure(f, *limit)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(255)
	}
	fmt.Printf("events: %d (%d client invocations)\n", rep.Events, rep.Invocations)
	fmt.Printf("longest interval with no recorded op: %v (from t=%.3fs)\n", rep.LongestGap.Round(time.Microsecond), rep.GapStart.Seconds())
	fmt.Printf("clients stopped %v past the time limit (last completion of an op invoked before it at t=%.3fs)\n", rep.Overshoot.Round(time.Microsecond), rep.LastCompletion.Seconds())
	fmt.Printf("invocations after the time limit: %d", rep.InvokedAfterLimit)
	if rep.InvokedAfterLimit > 0 {
		fmt.Printf(" (first at t=%.3fs: final reads)", rep.FirstInvokeAfterLimit.Seconds())
	}
	fmt.Println()
}

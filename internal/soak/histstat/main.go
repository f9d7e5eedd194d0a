// Command histstat prints the soak figures of a history file (see package
// soak) and checks them against bounds:
//
//	go run ./internal/soak/histstat -time-limit 10m -max-gap 200ms -max-late 1s store/.../history.jsonl
//
// It exits 1 when a figure is over its bound, 254 on bad arguments and 255
// when the file cannot be read.
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
	maxGap := flag.Duration("max-gap", 0, "bound on the longest interval with no recorded op (0: none)")
	maxLate := flag.Duration("max-late", 0, "bound on how far past the time limit the clients stopped (0: none)")
	flag.Parse()
	if flag.NArg() != 1 || *limit <= 0 {
		fmt.Fprintln(os.Stderr, "usage: histstat -time-limit D [-max-gap D] [-max-late D] history.jsonl")
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
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
	fmt.Printf("events: %d (%d client invocations)\n", rep.Events, rep.Invocations)
	fmt.Printf("longest interval with no recorded op: %s (from t=%.3fs)\n", ms(rep.LongestGap), rep.GapStart.Seconds())
	fmt.Printf("clients stopped %s past the time limit (the last op invoked before it completed at t=%.3fs)\n", ms(rep.Overshoot), rep.LastCompletion.Seconds())
	fmt.Printf("invocations after the time limit: %d", rep.InvokedAfterLimit)
	if rep.InvokedAfterLimit > 0 {
		fmt.Printf(" (first at t=%.3fs)", rep.FirstInvokeAfterLimit.Seconds())
	}
	fmt.Println()
	code := 0
	if *maxGap > 0 && rep.LongestGap >= *maxGap {
		fmt.Printf("FAIL: longest interval with no recorded op %s >= %v\n", ms(rep.LongestGap), *maxGap)
		code = 1
	}
	if *maxLate > 0 && rep.Overshoot >= *maxLate {
		fmt.Printf("FAIL: clients stopped %s past the time limit >= %v\n", ms(rep.Overshoot), *maxLate)
		code = 1
	}
	os.Exit(code)
}

// Command genrun writes a run directory of a generated register history,
// for measuring history I/O and `chaoscheck report` on large runs (see
// scripts/bench-history):
//
//	go run ./internal/histgen/genrun -events 1000000 DIR
//
// writes DIR/history.jsonl (a linearizable register history of about
// that many events, 50 processes, 20 keys, 1% info, served by nodes
// n1..n3, with a partition every 10 s), DIR/test.json and
// DIR/results.json (statistics, the stats checker, measurements: what
// `chaoscheck report` reads). With -load FILE it instead loads a JSONL
// history as `chaoscheck check` does and prints the time it took, the
// heap it holds per op and the peak RSS of the process.
//
// Exit codes: 254 bad arguments, 255 failure.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
	"github.com/chaoscheck/chaoscheck/measures"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
)

func main() {
	events := flag.Int("events", 1_000_000, "events (lines) of the history, about")
	seed := flag.Uint64("seed", 1, "random seed")
	load := flag.String("load", "", "load this JSONL history and print the figures, instead of writing a run")
	flag.Parse()
	if *load != "" {
		if err := loadFile(*load); err != nil {
			fmt.Fprintln(os.Stderr, "genrun:", err)
			os.Exit(255)
		}
		return
	}
	if flag.NArg() != 1 || *events < 2 {
		fmt.Fprintln(os.Stderr, "usage: genrun [-events N] [-seed S] DIR | genrun -load history.jsonl")
		os.Exit(254)
	}
	if err := write(flag.Arg(0), *events, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "genrun:", err)
		os.Exit(255)
	}
}

// write generates the history and the run directory dir.
func write(dir string, events int, seed uint64) error {
	h, err := histgen.Register(rand.New(rand.NewPCG(seed, seed^0x5eed)), histgen.Config{
		Ops: events / 2, Keys: 20, Processes: 50, InfoFraction: 0.01,
		ReadWeight: 1, WriteWeight: 1, CASWeight: 1, NotSwappedOK: true,
	})
	if err != nil {
		return err
	}
	// Nodes on completions, and a partition every 10 s (nemesis events
	// inserted in time order).
	out := &history.History{Ops: make([]history.Op, 0, len(h.Ops)+len(h.Ops)/1000)}
	next := int64(10 * time.Second)
	on := false
	for i := range h.Ops {
		op := h.Ops[i]
		for op.Time >= next {
			f, v := "start-partition", history.Str("isolated n2")
			if on {
				f, v = "stop-partition", history.Nil()
			}
			out.Ops = append(out.Ops, history.Op{Time: next, Type: history.Invoke, Process: history.Nemesis, F: f})
			out.Ops = append(out.Ops, history.Op{Time: next, Type: history.Info, Process: history.Nemesis, F: f, Value: v})
			on = !on
			next += int64(10 * time.Second)
		}
		if op.Type != history.Invoke {
			op.Node = []string{"n1", "n2", "n3"}[i%3]
		}
		out.Ops = append(out.Ops, op)
	}
	out.Reindex()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, rundir.HistoryFile)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := history.WriteJSONL(f, out); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	checks := runner.Check(context.Background(), out, []runner.Group{{Workload: "register"}})
	stats, err := runner.Stats(out)
	if err != nil {
		return err
	}
	m, err := measures.Compute(out, rundir.CheckResults(checks), measures.Options{})
	if err != nil {
		return err
	}
	res := rundir.Results{SchemaVersion: rundir.SchemaVersion, Verdict: rundir.Verdict(checks), Stats: stats, Checks: checks, Measurements: m, History: rundir.HistoryFile}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.ResultsFile), res); err != nil {
		return err
	}
	info := rundir.TestInfo{Name: "genrun", Target: "generated", Workloads: []string{"register"}, Nemesis: []string{"partition"}, Seed: int64(seed)}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.TestFile), info); err != nil {
		return err
	}
	fmt.Printf("%s: %d events (%d invocations)\n", path, len(out.Ops), stats.Invocations)
	return nil
}

// loadFile loads path as `chaoscheck check` does and prints the figures.
func loadFile(path string) error {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start, cpu0 := time.Now(), cpuTime()
	h, _, err := history.Load(path, history.FormatJSONL)
	took, cpu := time.Since(start), cpuTime()-cpu0
	if err != nil {
		return err
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := len(h.Ops)
	fmt.Printf("loaded %d ops in %.3f s (%.0f ns/op), CPU %.3f s; heap held %.1f B/op", n, took.Seconds(), float64(took.Nanoseconds())/float64(n), cpu.Seconds(), float64(after.HeapAlloc-before.HeapAlloc)/float64(n))
	if hwm := vmHWM(); hwm > 0 {
		fmt.Printf("; peak RSS %d MiB = %.1f B/op", hwm>>20, float64(hwm)/float64(n))
	}
	fmt.Println()
	runtime.KeepAlive(h)
	return nil
}

// vmHWM is the process's peak resident set size in bytes (0: unknown).
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the user and system CPU time of the process so far (0 when
// it cannot be read).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

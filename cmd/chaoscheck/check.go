package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/measures"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
)

func newCheckCmd() *cobra.Command {
	var (
		format, model, out string
		checkerNames       []string
		timeLimit          time.Duration
		txn                txnFlags
	)
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Check a history file (chaoscheck JSONL, Jepsen history.edn or console log)",
		Long: `Check a recorded history offline. The format is detected from the content
or named with --format (jsonl, edn, jepsen-log). Without --model, the
linearizability model is chosen from the history's operations. Prints a
verdict table and writes results.json (and porcupine's visualization of a
non-linearizable key) next to the file, or into --out. What the reader
noticed (a cut last line, times that go back) is printed on stderr and kept
in results.json's "input".

A transactional history (operations with f txn whose values are micro-ops
[append k v] / [r k list], or [w k v] / [r k v]) is recognised by its
micro-ops and judged by Elle's list-append or rw-register checker, with
Elle's options: --consistency-models (default strict-serializable),
--anomalies, and for rw-register --linearizable-keys, --sequential-keys and
--wfr-keys. Those flags are refused on other histories.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := history.ParseFormat(format)
			if err != nil {
				return badInput(err)
			}
			var m checkers.Model
			if model != "" {
				if m, err = checkers.ParseModel(model); err != nil {
					return badInput(err)
				}
			}
			in, err := openHistory(args[0], f)
			if err != nil {
				return badInput(err)
			}
			h, info := in.h, in.info
			txnView := h
			if txnView == nil {
				txnView = &history.History{} // streamed: it holds no transaction
			}
			cs, err := txn.checkers(cmd.Flags(), txnView, outDirFor(out, args[0]))
			if err != nil {
				return badInput(err)
			}
			if cs == nil {
				if cs, err = buildCheckers(cmd.Flags(), checkerNames, m, timeLimit, out, args[0]); err != nil {
					return badInput(err)
				}
			} else {
				for _, opt := range []string{"model", "time-limit"} {
					if cmd.Flags().Changed(opt) {
						return badInput(fmt.Errorf("--%s applies to --checker linearizable; a transactional history is judged by Elle's checker", opt))
					}
				}
			}
			lin := linearizableOf(cs)
			input := &rundir.Input{Read: info, Warnings: info.Warnings()}
			for _, w := range input.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s: %s\n", args[0], w)
			}
			if lin != nil {
				input.Model, input.ModelFrom = string(lin.Model), "flag"
				if lin.Model == "" {
					choice, err := checkers.ChooseModelFs(in.fs)
					if err != nil {
						return badInput(fmt.Errorf("%w: name one with --model, or other checkers with --checker", err))
					}
					lin.Model = choice.Model
					input.Model, input.ModelFrom = string(choice.Model), "history"
					fmt.Fprintf(cmd.ErrOrStderr(), "note: %s; --model names another\n", choice)
				}
			}
			outDir := outDirFor(out, args[0])
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return badInput(fmt.Errorf("create output directory: %w", err))
			}
			groups := []runner.Group{{Checkers: cs}}
			var checks []rundir.Check
			if in.file != nil {
				if checks, err = runner.CheckFile(cmd.Context(), in.file.Path(), groups); err != nil {
					return couldNotRun(err)
				}
			} else {
				checks = runner.Check(cmd.Context(), h, groups)
			}
			stats, err := runner.Stats(in.source())
			if err != nil {
				return couldNotRun(err)
			}
			ms, err := measures.Compute(in.source(), rundir.CheckResults(checks), measureOptionsBeside(args[0], cmd.ErrOrStderr()))
			if err != nil {
				return couldNotRun(err)
			}
			res := rundir.Results{
				SchemaVersion: rundir.SchemaVersion,
				Verdict:       rundir.Verdict(checks),
				Stats:         stats,
				Checks:        checks,
				Measurements:  ms,
				History:       historyRef(outDir, args[0]),
				Input:         input,
			}
			printChecks(cmd.OutOrStdout(), res)
			path := filepath.Join(outDir, rundir.ResultsFile)
			if err := rundir.WriteJSON(path, res); err != nil {
				return couldNotRun(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "results: %s\n", path)
			return verdictCode(exitFor(res.Verdict))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "history format: jsonl, edn, jepsen-log (default: detect)")
	fl.StringVar(&model, "model", "", "linearizability model: register, cas-register, kv (default: chosen from the history's operations: read, write, cas give cas-register; get, put, append give kv)")
	fl.StringSliceVar(&checkerNames, "checker", []string{"linearizable"}, "checkers: "+checkers.Checkers().Help())
	fl.StringVar(&out, "out", "", "directory for results.json (default: beside FILE)")
	fl.DurationVar(&timeLimit, "time-limit", 0, "bound on the linearizability search (0: none); past it the verdict is unknown")
	txn.register(fl)
	return cmd
}

// historyInput is a history to check. A chaoscheck JSONL file (what every
// run writes) that holds no transaction is streamed: file is set and h is
// nil, the file is scanned once here for the operations that pick the
// model, then checked key by key (runner.CheckFile) and measured in
// passes over the file, so that memory holds one key's operations, not
// the history. Any other history (Jepsen EDN or log, transactions, which
// Elle judges whole) is loaded whole into h.
type historyInput struct {
	file *history.JSONLFile
	h    *history.History
	info history.ReadInfo
	fs   []string // the distinct f of the client operations
}

// source is the history as a Source.
func (c *historyInput) source() history.Source {
	if c.file != nil {
		return c.file
	}
	return c.h
}

// openHistory opens the history at path in format f (see historyInput).
// Errors are the loader's (history.Load), whichever way it is read.
func openHistory(path string, f history.Format) (*historyInput, error) {
	if f == history.FormatAuto {
		if head, err := readHead(path, 4096); err == nil {
			if d, err := history.DetectFormat(head); err == nil {
				f = d
			}
		}
	}
	if f == history.FormatJSONL {
		if file, err := history.OpenJSONL(path); err == nil {
			seen := map[string]bool{}
			var fs []string
			ops, txn := 0, false
			err := file.Scan(func(op *history.Op) error {
				ops++
				if op.IsClient() && !seen[op.F] {
					seen[op.F] = true
					fs = append(fs, op.F)
					txn = txn || op.F == "txn"
				}
				return nil
			})
			// A bad or empty file, or transactions: the loader says what
			// is wrong, or loads them whole.
			if err == nil && ops > 0 && !txn {
				return &historyInput{file: file, info: file.Info(), fs: fs}, nil
			}
		}
	}
	h, info, err := history.Load(path, f)
	if err != nil {
		return nil, err
	}
	in := &historyInput{h: h, info: info}
	seen := map[string]bool{}
	for i := range h.Ops {
		if op := &h.Ops[i]; op.IsClient() && !seen[op.F] {
			seen[op.F] = true
			in.fs = append(in.fs, op.F)
		}
	}
	return in, nil
}

// readHead reads up to n bytes from the start of the file at path.
func readHead(path string, n int) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b := make([]byte, n)
	k, err := io.ReadFull(fh, b)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return b[:k], err
}

// buildCheckers turns --checker names into checkers, from the checker
// table (checkers.Checkers). m is the model of the linearizable checker,
// "" until it is chosen from the history. It refuses --model and
// --time-limit (given on fs) when no chosen checker reads them.
func buildCheckers(fs *pflag.FlagSet, names []string, m checkers.Model, limit time.Duration, out, file string) ([]checkers.Checker, error) {
	if limit < 0 {
		return nil, fmt.Errorf("--time-limit must not be negative")
	}
	reg := checkers.Checkers()
	cs, reads, err := reg.Build(names, checkers.Options{Model: m, TimeLimit: limit, OutDir: outDirFor(out, file)})
	if err != nil {
		return nil, err
	}
	for _, opt := range []checkers.Option{checkers.OptModel, checkers.OptTimeLimit} {
		if fs.Changed(string(opt)) && !reads[opt] {
			var by []string
			for _, r := range reg {
				if slices.Contains(r.Reads, opt) {
					by = append(by, r.Name)
				}
			}
			return nil, fmt.Errorf("--%s applies to --checker %s, which is not given", opt, strings.Join(by, "|"))
		}
	}
	return cs, nil
}

// linearizableOf returns the linearizable checker of cs, or nil.
func linearizableOf(cs []checkers.Checker) *checkers.Linearizable {
	for _, c := range cs {
		if l, ok := c.(*checkers.Linearizable); ok {
			return l
		}
	}
	return nil
}

func outDirFor(out, file string) string {
	if out != "" {
		return out
	}
	return filepath.Dir(file)
}

// historyRef names the history file relative to the results directory when
// possible.
func historyRef(outDir, file string) string {
	if rel, err := filepath.Rel(outDir, file); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return file
	}
	return abs
}

func exitFor(v checkers.Verdict) int {
	switch v {
	case checkers.Valid:
		return exitValid
	case checkers.Invalid:
		return exitInvalid
	}
	return exitUnknown
}

// printChecks prints the verdict table.
func printChecks(w io.Writer, res rundir.Results) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tCHECKER\tVERDICT\tANOMALIES\tNOTE")
	for _, c := range res.Checks {
		wl := c.Workload
		if wl == "" {
			wl = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", wl, c.Checker, c.Verdict, anomalySummary(c.AnomalyCounts), oneLine(c.Reason))
	}
	tw.Flush()
	s := res.Stats
	fmt.Fprintf(w, "operations: %d invoked, %d ok, %d fail, %d info, %d open; %d nemesis events\n",
		s.Invocations, s.OK, s.Fail, s.Info, s.Open, s.NemesisEvents)
	printMeasures(w, res.Measurements)
	fmt.Fprintf(w, "verdict: %s\n", strings.ToUpper(string(res.Verdict)))
}

// printMeasures prints the measurements worth a line each.
func printMeasures(w io.Writer, m measures.Measurements) {
	sec := func(ns int64) string { return fmt.Sprintf("%.3fs", float64(ns)/1e9) }
	ms := func(ns int64) string { return fmt.Sprintf("%.1fms", float64(ns)/1e6) }
	lat := func(what string, s measures.LatencyStats) string {
		if s.Count == 0 {
			return ""
		}
		return fmt.Sprintf("%s p50 %s p99 %s max %s (%d ok)", what, ms(s.P50NS), ms(s.P99NS), ms(s.MaxNS), s.Count)
	}
	latLine := func(prefix string, r, wr measures.LatencyStats) {
		parts := slices.DeleteFunc([]string{lat("read", r), lat("write", wr)}, func(s string) bool { return s == "" })
		if len(parts) > 0 {
			fmt.Fprintf(w, "%s: %s\n", prefix, strings.Join(parts, "; "))
		}
	}
	latLine("latency", m.Latency.Read, m.Latency.Write)
	for _, rl := range m.Latency.Regions {
		latLine("latency served in "+rl.Region, rl.Read, rl.Write)
	}
	for _, f := range m.Failovers {
		fmt.Fprintf(w, "failover at %s (%s): %d acknowledged writes lost", sec(f.StartNS), f.Description, f.LostWrites)
		if f.LostWrites > 0 {
			fmt.Fprintf(w, " (acknowledged in the %s before the promotion)", sec(f.LossWindowNS))
		}
		fmt.Fprintf(w, "; %s without a successful write\n", sec(f.DowntimeNS))
	}
	for _, q := range m.Quorum {
		fmt.Fprintf(w, "%d replica(s) down: reads ok/fail/info %d/%d/%d, predicted %s; writes %d/%d/%d, predicted %s\n",
			q.Down, q.Reads.OK, q.Reads.Fail, q.Reads.Info, q.ReadsPredicted, q.Writes.OK, q.Writes.Fail, q.Writes.Info, q.WritesPredicted)
	}
	if s := m.Staleness; s != nil {
		fmt.Fprintf(w, "staleness over every read: %d of %d reads stale", s.Stale, s.Reads)
		if s.Stale > 0 {
			fmt.Fprintf(w, ": p50 %s, p99 %s, max %s", sec(s.P50NS), sec(s.P99NS), sec(s.MaxNS))
		}
		fmt.Fprintln(w)
	}
	for _, l := range m.ReplicationLag {
		fmt.Fprintf(w, "replication lag of %s", l.Node)
		if l.Of != "" {
			fmt.Fprintf(w, " behind %s", l.Of)
		}
		if l.Lag != nil {
			derived := ""
			if l.Derived {
				derived = " (derived)"
			}
			fmt.Fprintf(w, ": p50 %s, p99 %s, max %s%s; over %s for %s", sec(l.Lag.P50NS), sec(l.Lag.P99NS), sec(l.Lag.MaxNS), derived, sec(l.AlertNS), sec(l.OverAlertNS))
		}
		fmt.Fprintf(w, " (%d samples, %d failed)\n", l.Samples, l.Failed)
	}
	if d := m.WitnessStaleness; d != nil {
		of := d.Of
		if of == "" {
			of = "stale reads"
		}
		if d.Anomalies > d.Count {
			of += fmt.Sprintf(" (%d anomalies)", d.Anomalies)
		}
		fmt.Fprintf(w, "staleness the checkers saw: %d %s: p50 %s, p90 %s, max %s\n", d.Count, of, sec(d.P50NS), sec(d.P90NS), sec(d.MaxNS))
	}
	printReadRoutes(w, m.ReadRoutes)
	if l := m.Load; l != nil && len(l.Nodes) > 1 {
		parts := make([]string, len(l.Nodes))
		for i, n := range l.Nodes {
			parts[i] = fmt.Sprintf("%s=%d", n.Node, n.Ops)
			if s, ok := l.ServerSide[n.Node]; ok {
				parts[i] += fmt.Sprintf(" (server: %d)", s)
			}
		}
		fmt.Fprintf(w, "load per node: %s; hottest %s, imbalance %.2f (max/mean)\n", strings.Join(parts, " "), l.Hottest, l.Imbalance)
	}
}

func anomalySummary(counts map[string]int) string {
	if len(counts) == 0 {
		return "-"
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s=%d", k, counts[k])
	}
	return strings.Join(parts, " ")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

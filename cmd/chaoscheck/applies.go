package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/nemesis"
)

// workloadFlags maps each workload option flag of `chaoscheck test` to
// the workloads that read it. A flag given while none of them runs would
// change nothing, so it is refused.
var workloadFlags = []struct {
	flag      string
	workloads []string
}{
	{"keys", []string{"register", "set", "counter", "lost-update", "hotkey", "list-append", "rw-register"}},
	{"cas", []string{"register"}},
	{"counter", []string{"counter"}},
	{"hot-fraction", []string{"hotkey"}},
	{"salt", []string{"hotkey"}},
	{"consistency-models", []string{"list-append", "rw-register"}},
	{"anomalies", []string{"list-append", "rw-register"}},
	{"linearizable-keys", []string{"rw-register"}},
	{"sequential-keys", []string{"rw-register"}},
	{"wfr-keys", []string{"rw-register"}},
}

// targetWorkloadFlags are target flags that also need one of the
// workloads that read them: they are checked once the target accepted
// the flag (checkTargetApplies), so that a flag of another target is
// refused for the target first.
var targetWorkloadFlags = []struct {
	flag      string
	workloads []string
}{
	{"isolation", []string{"lost-update", "list-append", "rw-register"}},
}

// checkTargetApplies refuses target flags given on fs that no chosen
// workload reads.
func checkTargetApplies(fs *pflag.FlagSet, chosen []string) error {
	for _, wf := range targetWorkloadFlags {
		if fs.Changed(wf.flag) && !slices.ContainsFunc(chosen, func(w string) bool { return slices.Contains(wf.workloads, strings.TrimSpace(w)) }) {
			return fmt.Errorf("--%s applies to --workload %s (transactions), not %s", wf.flag, strings.Join(wf.workloads, "|"), strings.Join(chosen, ","))
		}
	}
	return nil
}

// nodeFaultNames are the --nemesis kinds that --nemesis-nodes selects
// nodes for.
func nodeFaultNames() []string {
	var out []string
	for _, k := range nemesis.Kinds() {
		if k.Nodes {
			out = append(out, k.Name)
		}
	}
	return out
}

// checkApplies refuses workload and nemesis flags given on fs that no
// chosen workload or fault reads.
func checkApplies(fs *pflag.FlagSet, chosen []string, faults []nemesis.Fault) error {
	var errs []string
	for _, wf := range workloadFlags {
		if !fs.Changed(wf.flag) {
			continue
		}
		if !slices.ContainsFunc(chosen, func(w string) bool { return slices.Contains(wf.workloads, strings.TrimSpace(w)) }) {
			errs = append(errs, fmt.Sprintf("--%s applies to --workload %s, not %s", wf.flag, strings.Join(wf.workloads, "|"), strings.Join(chosen, ",")))
		}
	}
	selects := func(f nemesis.Fault) bool { _, ok := f.(nemesis.NodeSelector); return ok }
	if fs.Changed("nemesis-nodes") && !slices.ContainsFunc(faults, selects) {
		errs = append(errs, fmt.Sprintf("--nemesis-nodes applies to --nemesis %s, none of which is given", strings.Join(nodeFaultNames(), "|")))
	}
	if fs.Changed("nemesis-interval") && len(faults) == 0 {
		errs = append(errs, "--nemesis-interval applies to faults, and --nemesis is none")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

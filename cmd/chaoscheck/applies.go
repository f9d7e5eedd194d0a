package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// workloadOptionFlags are the workload option flags of `chaoscheck
// test`; the workload table (workloads.Workloads) says which workloads
// read each. A flag given while none of them runs would change nothing,
// so it is refused.
var workloadOptionFlags = []string{"keys", "cas", "counter", "hot-fraction", "salt", "consistency-models", "anomalies", "linearizable-keys", "sequential-keys", "wfr-keys"}

// readersOf lists the workloads whose row reads flag.
func readersOf(flag string) []string {
	var out []string
	for _, r := range workloads.Workloads() {
		if slices.Contains(r.Reads, flag) {
			out = append(out, r.Name)
		}
	}
	return out
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
	for _, flag := range workloadOptionFlags {
		if !fs.Changed(flag) {
			continue
		}
		readers := readersOf(flag)
		if !slices.ContainsFunc(chosen, func(w string) bool { return slices.Contains(readers, strings.TrimSpace(w)) }) {
			errs = append(errs, fmt.Sprintf("--%s applies to --workload %s, not %s", flag, strings.Join(readers, "|"), strings.Join(chosen, ",")))
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

// checkLagApplies refuses --lag-interval and --lag-alert, given on fs,
// for a target whose deployment will have no replica to sample
// (targets.Replicated).
func checkLagApplies(fs *pflag.FlagSet, t targets.Target) error {
	r, ok := t.(targets.Replicated)
	if !ok {
		return nil
	}
	err := r.Replicas()
	if err == nil {
		return nil
	}
	for _, flag := range []string{"lag-interval", "lag-alert"} {
		if fs.Changed(flag) {
			return fmt.Errorf("--%s applies to targets with replicas; --target %s has none: %w", flag, t.Name(), err)
		}
	}
	return nil
}

package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/checkers/elle"
	"github.com/chaoscheck/chaoscheck/history"
)

// txnFlags are Elle's options on `check`.
type txnFlags struct {
	models, anomalies                         []string
	linearizableKeys, sequentialKeys, wfrKeys bool
}

func (t *txnFlags) register(fl *pflag.FlagSet) {
	fl.StringSliceVar(&t.models, "consistency-models", nil, "transactional histories: consistency models to check against, Elle's names (default strict-serializable, unless --anomalies is given)")
	fl.StringSliceVar(&t.anomalies, "anomalies", nil, "transactional histories: anomalies to look for, Elle's names, expanded to those that imply them (G1 also reports G0, G1a, G1b, G1c)")
	fl.BoolVar(&t.linearizableKeys, "linearizable-keys", false, "rw-register histories: assume each key is linearizable, and infer version orders from real-time order")
	fl.BoolVar(&t.sequentialKeys, "sequential-keys", false, "rw-register histories: assume each key is sequentially consistent, and infer version orders from process order")
	fl.BoolVar(&t.wfrKeys, "wfr-keys", false, "rw-register histories: assume writes follow reads within a transaction, and infer version orders from that")
}

var txnOnly = []string{"consistency-models", "anomalies", "linearizable-keys", "sequential-keys", "wfr-keys"}
var rwOnly = []string{"linearizable-keys", "sequential-keys", "wfr-keys"}

// checkers returns Elle's checker for a transactional history (nil for
// any other), and refuses the transactional flags where they do not
// apply: on a history that is not transactional, the rw-register ones on
// a list-append history, and --checker on a transactional one.
func (t *txnFlags) checkers(fl *pflag.FlagSet, h *history.History, outDir string) ([]checkers.Checker, error) {
	w, ok := elle.IsTransactional(h)
	if !ok {
		for _, f := range txnOnly {
			if fl.Changed(f) {
				return nil, fmt.Errorf("--%s applies to transactional histories (f txn, with list-append or rw-register micro-ops); this one is not", f)
			}
		}
		return nil, nil
	}
	if w == elle.ListAppend {
		for _, f := range rwOnly {
			if fl.Changed(f) {
				return nil, fmt.Errorf("--%s applies to rw-register histories; this one is list-append", f)
			}
		}
	}
	if fl.Changed("checker") {
		return nil, fmt.Errorf("--checker does not apply to a transactional history: it is judged by Elle's %s checker", w)
	}
	o := elle.Options{
		Workload:          w,
		ConsistencyModels: trimAll(t.models),
		Anomalies:         trimAll(t.anomalies),
		LinearizableKeys:  t.linearizableKeys,
		SequentialKeys:    t.sequentialKeys,
		WFRKeys:           t.wfrKeys,
		OutDir:            outDir,
	}
	if err := elle.ValidateOptions(o); err != nil {
		return nil, err
	}
	return []checkers.Checker{elle.New(o)}, nil
}

func trimAll(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

package checkers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/chaoscheck/chaoscheck/history"
)

// modelOps is the registry of the models and of the operations (f) each
// one interprets. ChooseModel prefers the models in this order; register
// is never chosen, because cas-register interprets its operations the
// same way.
var modelOps = []struct {
	model Model
	fs    []string
}{
	{ModelCASRegister, []string{"read", "write", "cas"}},
	{ModelKV, []string{"get", "put", "append"}},
	{ModelRegister, []string{"read", "write"}},
}

// operations returns the operations m interprets, or nil for an unknown
// model.
func (m Model) operations() []string {
	for _, e := range modelOps {
		if e.model == m {
			return e.fs
		}
	}
	return nil
}

// ModelChoice is the model ChooseModel picked for a history, and the
// facts it picked it from.
type ModelChoice struct {
	Model Model `json:"model"`
	// Fs are the distinct operations (f) of the history's client
	// operations, sorted. Every one is an operation of Model.
	Fs []string `json:"fs"`
}

// String says which model was chosen and why, for a person.
func (c ModelChoice) String() string {
	if len(c.Fs) == 0 {
		return fmt.Sprintf("linearizability model %s (the history has no client operation to choose from)", c.Model)
	}
	return fmt.Sprintf("linearizability model %s, chosen from the history's operations (%s)", c.Model, strings.Join(c.Fs, ", "))
}

// ChooseModel picks the model of a history from its operations: the first
// model of the registry (cas-register, then kv) that interprets every
// operation (f) of the history's client operations. So read, write and cas
// give cas-register, and get, put and append (Porcupine's and Knossos' kv
// histories) give kv. A history without client operations gets
// cas-register. It is an error when no model interprets them all; the
// error names the operations and what each model interprets.
func ChooseModel(h *history.History) (ModelChoice, error) {
	seen := make(map[string]bool)
	var fs []string
	if h != nil {
		for i := range h.Ops {
			op := &h.Ops[i]
			if op.IsClient() && !seen[op.F] {
				seen[op.F] = true
				fs = append(fs, op.F)
			}
		}
	}
	return ChooseModelFs(fs)
}

// ChooseModelFs is ChooseModel given the distinct operations (f) of the
// history's client operations, in any order (a history streamed from
// disk is scanned once for them).
func ChooseModelFs(fs []string) (ModelChoice, error) {
	fs = slices.Clone(fs)
	slices.Sort(fs)
	fs = slices.Compact(fs)
	for _, e := range modelOps {
		if !slices.ContainsFunc(fs, func(f string) bool { return !slices.Contains(e.fs, f) }) {
			return ModelChoice{Model: e.model, Fs: fs}, nil
		}
	}
	quoted := make([]string, 0, min(len(fs), linMaxListed))
	for _, f := range fs[:min(len(fs), linMaxListed)] {
		quoted = append(quoted, history.Quote(f))
	}
	if len(fs) > linMaxListed {
		quoted = append(quoted, fmt.Sprintf("and %d more", len(fs)-linMaxListed))
	}
	models := make([]string, len(modelOps))
	for i, e := range modelOps {
		models[i] = fmt.Sprintf("%s: %s", e.model, strings.Join(e.fs, ", "))
	}
	return ModelChoice{Fs: fs}, fmt.Errorf("checkers: no linearizability model interprets every operation of the history (%s); the models interpret %s", strings.Join(quoted, ", "), strings.Join(models, "; "))
}

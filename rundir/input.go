package rundir

import "github.com/chaoscheck/chaoscheck/history"

// Input describes the history file that `chaoscheck check` judged: how it
// was read, what the reader noticed about it, and the choices made from
// its content. Results of runs, which record their own history, have
// none.
type Input struct {
	// Read holds the reader's typed facts: the format, a cut last line,
	// times that go back.
	Read history.ReadInfo `json:"read"`
	// Warnings are those facts for a person (history.ReadInfo.Warnings),
	// as printed on stderr.
	Warnings []string `json:"warnings,omitempty"`
	// Model is the linearizability model used, when the linearizable
	// checker ran. ModelFrom is "flag" (--model) or "history" (chosen from
	// the operations, see checkers.ChooseModel).
	Model     string `json:"model,omitempty"`
	ModelFrom string `json:"model_from,omitempty"`
}

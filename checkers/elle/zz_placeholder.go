package elle

import (
	"context"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// New is a placeholder until the elle checker is merged: its Check always
// says Unknown.
func New(opts Options) checkers.Checker { return placeholder{opts: opts} }

type placeholder struct{ opts Options }

func (placeholder) Name() string { return "elle" }

func (placeholder) Check(context.Context, *history.History) checkers.Result {
	return checkers.Result{Checker: "elle", Verdict: checkers.Unknown, Reason: "elle checker not merged yet"}
}

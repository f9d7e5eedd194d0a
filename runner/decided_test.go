package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// refusingTarget deploys, but refuses every client.
type refusingTarget struct{}

func (refusingTarget) Name() string { return "refusing" }

func (refusingTarget) Deploy(context.Context) (targets.Deployment, error) {
	return refusingDeployment{&noopDeployment{data: map[string]int64{}}}, nil
}

type refusingDeployment struct{ *noopDeployment }

func (refusingDeployment) NewClient(context.Context, int) (workloads.Client, error) {
	return nil, errors.New("connection refused")
}

// Issue 10, case 1: `chaoscheck test` against a database that refuses
// every client must not pass. Nothing was decided: the verdict is unknown,
// and the failures to open a client are run errors in results.json.
func TestRefusedClientsAreUnknownWithErrors(t *testing.T) {
	out, err := Run(context.Background(), Config{
		Name: "refused", StoreRoot: t.TempDir(), Target: refusingTarget{},
		Workloads:   mustWorkloads(t, "register"),
		Concurrency: 2, TimeLimit: 200 * time.Millisecond, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	res := out.Results
	if res.Verdict != checkers.Unknown {
		t.Errorf("verdict %s, want unknown: %+v", res.Verdict, res.Checks)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "connection refused") || !strings.Contains(res.Errors[0], "opening clients failed") {
		t.Errorf("errors %q: want the failures to open a client", res.Errors)
	}
	for _, c := range res.Checks {
		if c.Verdict == checkers.Valid {
			t.Errorf("%s/%s is valid on an empty history", c.Workload, c.Checker)
		}
	}
}

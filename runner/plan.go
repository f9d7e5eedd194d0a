package runner

import (
	"fmt"

	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/targets"
)

// checkPlan refuses, before anything is deployed or written, faults that
// the target's cluster will not be able to take, when the target declares
// its plan (targets.Planner). Targets that do not are checked after
// deployment, by nemesis.New.
func checkPlan(c *Config) error {
	p, ok := c.Target.(targets.Planner)
	if !ok {
		return nil
	}
	if err := nemesis.CheckPlan(c.Faults, p.Plan()); err != nil {
		return fmt.Errorf("%s: %w", c.Target.Name(), err)
	}
	return nil
}

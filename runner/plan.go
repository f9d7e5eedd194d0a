package runner

import (
	"fmt"

	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// checkPlan refuses, before anything is deployed or written, transaction
// workloads on a target that cannot run them (targets.Transactional),
// and faults that the target's cluster will not be able to take, when the target declares
// its plan (targets.Planner). Targets that do not are checked after
// deployment, by nemesis.New.
func checkPlan(c *Config) error {
	if tr, ok := c.Target.(targets.Transactional); ok {
		for _, w := range c.Workloads {
			if _, txn := w.(workloads.OpOwner); !txn {
				continue
			}
			if err := tr.Transactions(); err != nil {
				return fmt.Errorf("--workload %s on --target %s: %w", w.Name(), c.Target.Name(), err)
			}
		}
	}
	p, ok := c.Target.(targets.Planner)
	if !ok {
		return nil
	}
	if err := nemesis.CheckPlan(c.Faults, p.Plan()); err != nil {
		return fmt.Errorf("%s: %w", c.Target.Name(), err)
	}
	return nil
}

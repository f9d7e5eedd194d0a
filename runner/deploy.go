package runner

import (
	"context"
	"fmt"

	"github.com/chaoscheck/chaoscheck/targets"
)

// Deploy deploys cfg's target as Run would (the same timeout, raised by
// the target's targets.DeployBudget unless DeployTimeout is given), for
// a caller that runs several tests on it (Config.Deployment) and closes
// it itself. Its error wraps ErrSetup.
func Deploy(ctx context.Context, cfg Config) (targets.Deployment, error) {
	cfg.defaults()
	return deploy(ctx, &cfg)
}

// deploy deploys cfg.Target within the deploy timeout; cfg has its
// defaults.
func deploy(ctx context.Context, cfg *Config) (targets.Deployment, error) {
	deployTimeout := cfg.DeployTimeout
	if b, ok := cfg.Target.(targets.DeployBudget); ok && !cfg.deployTimeoutSet {
		deployTimeout = max(deployTimeout, b.DeployTimeout())
	}
	dctx, cancel := context.WithTimeout(ctx, deployTimeout)
	defer cancel()
	dep, err := cfg.Target.Deploy(dctx)
	if err != nil {
		return nil, fmt.Errorf("%w: deploy %s: %v", ErrSetup, cfg.Target.Name(), err)
	}
	return dep, nil
}

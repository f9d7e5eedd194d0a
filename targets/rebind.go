package targets

// Rebinder is implemented by targets whose deployments can also serve
// another configuration of the same target that differs only in how
// clients talk to the nodes (consistency levels, the coordinator
// choice): the nodes, their server configuration and the runtime are
// the same. A suite (chaoscheck suite run) then runs such cases on one
// deployed cluster instead of deploying one per case.
type Rebinder interface {
	// SameDeployment returns nil when a deployment of this target can
	// serve to, or an error saying what differs (to needs a deployment
	// of its own). It decides from the configurations alone.
	SameDeployment(to Target) error
	// Rebind returns a view of dep, a deployment this target made, whose
	// clients, description and facts follow to's configuration (for
	// which SameDeployment said nil). Closing the view does nothing:
	// whoever deployed dep closes it.
	Rebind(dep Deployment, to Target) (Deployment, error)
}

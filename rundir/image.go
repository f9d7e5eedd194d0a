package rundir

// Image is the container image a run's nodes ran, and why, as test.json
// keeps it (runtimes that run images only; absent otherwise).
type Image struct {
	// Runtime is the runtime's name (e.g. "docker").
	Runtime string `json:"runtime"`
	// Ref is the image the nodes ran, as named (e.g. "redis:7").
	Ref string `json:"ref"`
	// ID is its content id (sha256:...).
	ID string `json:"id"`
	// Reason is why this image: "flag" (--image), "default" (the
	// target's default image, on this machine), "fallback" (the default
	// is not on this machine: the local image of chaoscheck images
	// build), "base".
	Reason string `json:"reason"`
	// Default is the target's default image, if it has one.
	Default string `json:"default,omitempty"`
	// Why says why Default did not run (reason "fallback").
	Why string `json:"why,omitempty"`
	// HostPackages are the host packages (name=version) a local image's
	// containers ran.
	HostPackages []string `json:"host_packages,omitempty"`
}

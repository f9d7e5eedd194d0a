//go:build linux

// Package runtimes is the table of every cluster runtime: the one place
// that lists them. The command line reads the table (names,
// constructors) and hands the chosen runtime to the targets; a new
// runtime (docker, ssh) adds one row here and its own Registration,
// nothing else.
package runtimes

import (
	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/docker"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// Registry returns the table of runtimes, the default (local) first, then docker.
// Each call returns a new table.
func Registry() cluster.RuntimeRegistry {
	return cluster.RuntimeRegistry{
		local.Registration(),
		docker.Registration(),
	}
}

// Default builds the default runtime (local).
func Default() (cluster.Runtime, error) {
	r := Registry()
	return r.New(r.Default(), cluster.RuntimeOptions{})
}

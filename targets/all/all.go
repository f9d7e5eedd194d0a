//go:build linux

// Package all is the table of every target: the one place that lists
// them. Commands read the table (names, flag groups, constructors); a new
// target adds one row here and its own Registration, nothing else.
package all

import (
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/cassandra"
	"github.com/chaoscheck/chaoscheck/targets/etcd"
	"github.com/chaoscheck/chaoscheck/targets/postgres"
	"github.com/chaoscheck/chaoscheck/targets/redis"
	"github.com/chaoscheck/chaoscheck/targets/sim"
)

// Registry returns the table of targets, in the order help lists them.
// Each call returns a new table.
func Registry() targets.Registry {
	return targets.Registry{
		sim.Registration(),
		postgres.Registration(),
		cassandra.Registration(),
		etcd.Registration(),
		redis.Registration(),
	}
}

//go:build linux

package postgres

import (
	"context"
	"testing"

	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/internal/sidebyside"
	"github.com/chaoscheck/chaoscheck/internal/testenv"
)

// lagBenchDeployment deploys a primary and two standbys (local runtime, needs root and PostgreSQL), reads from replicas.
func lagBenchDeployment(b *testing.B) *Deployment {
	if err := env.Err(); err != nil {
		b.Fatalf("this benchmark needs %s: %v", env.Needs, err)
	}
	tg, err := New(Config{Nodes: 3, ReadFrom: Replica, Runtime: local.Runtime{}, StateDir: testenv.StateDir(b, "pglagbench")})
	if err != nil {
		b.Fatal(err)
	}
	return sidebyside.Deploy(context.Background(), b, tg).(*Deployment)
}

// BenchmarkLagSampling is the cost of lag sampling (sidebyside.LagCost):
// the harness without and with SampleLag every 100 ms, in interleaved
// rounds. b.N is not used: -benchtime=1x.
//
//	go test ./targets/postgres -run '^$' -bench LagSampling -benchtime=1x
func BenchmarkLagSampling(b *testing.B) {
	bench.LagCost(context.Background(), b, lagBenchDeployment(b))
}

// BenchmarkSampleLag is one sampling round, back to back, under no load
// (sidebyside.SampleLagRounds).
//
//	go test ./targets/postgres -run '^$' -bench SampleLag$ -benchtime=2000x
func BenchmarkSampleLag(b *testing.B) {
	sidebyside.SampleLagRounds(context.Background(), b, lagBenchDeployment(b))
}

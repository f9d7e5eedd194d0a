//go:build linux

package postgres

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/internal/sidebyside"
	"github.com/chaoscheck/chaoscheck/internal/testenv"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// bench holds the -sidebyside.* flags.
var bench = sidebyside.RegisterFlags(flag.CommandLine)

// BenchmarkSideBySide deploys a 2-node PostgreSQL (a primary and an async
// standby; local runtime: network namespaces, needs root and PostgreSQL)
// once, then measures in interleaved rounds a bare pgx loop and the
// chaoscheck harness (runner.Drive: the register workload without CAS,
// the recorder and a history file) with the same concurrency, the same key
// space (the register workload's 5 keys) and the same statements on the
// primary (the SELECT and the upsert of the register client, half each),
// and reports both throughputs, their ratio and the allocations per
// operation. b.N is not used: run it with -benchtime=1x.
//
//	go test ./targets/postgres -run '^$' -bench SideBySide -benchtime=1x
func BenchmarkSideBySide(b *testing.B) {
	if err := env.Err(); err != nil {
		b.Fatalf("this benchmark needs %s: %v", env.Needs, err)
	}
	ctx := context.Background()
	tg, err := New(Config{Nodes: 2, Runtime: local.Runtime{}, StateDir: testenv.StateDir(b, "pgbench")})
	if err != nil {
		b.Fatal(err)
	}
	dep := sidebyside.Deploy(ctx, b, tg)
	d := dep.(*Deployment)

	opts := workloads.DefaultOptions()
	opts.CAS = false
	wl, err := workloads.New("register", opts)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, opts.Keys)
	for i := range keys {
		keys[i] = workloads.KeyPrefix("register") + strconv.Itoa(i)
	}
	n := *bench.Concurrency
	bare := sidebyside.Contender{Name: "bare pgx", Run: func(ctx context.Context, dur time.Duration) (int64, error) {
		return barePgx(ctx, d, keys, n, dur)
	}}
	harness := sidebyside.Harness("chaoscheck", sidebyside.HarnessConfig{
		Config: runner.Config{Workloads: []workloads.Workload{wl}, Concurrency: n, Seed: 1},
		Dep:    dep,
		Dir:    b.TempDir(),
	})
	bench.Bench(ctx, b, bare, harness)
}

// barePgx is what an application does: n goroutines, each with its own
// pgx connection to the primary (the register client's connection
// settings), the register client's SELECT or upsert (unique values) of a
// random key, half each, for dur. It returns the operations completed,
// whatever their outcome.
func barePgx(ctx context.Context, d *Deployment, keys []string, n int, dur time.Duration) (int64, error) {
	end := time.Now().Add(dur)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	node := d.cl.Primary()
	var ops, next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for g := range n {
		wg.Go(func() {
			conn, err := d.srv.connect(ctx, node)
			if err != nil {
				errs[g] = fmt.Errorf("bare pgx: %w", err)
				return
			}
			defer func() {
				cctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_ = conn.Close(cctx)
			}()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for ctx.Err() == nil {
				key := keys[rng.IntN(len(keys))]
				var err error
				if rng.IntN(2) == 0 {
					var v int64
					err = conn.QueryRow(ctx, "SELECT value FROM kv WHERE key = $1", key).Scan(&v)
					if errors.Is(err, pgx.ErrNoRows) {
						err = nil
					}
				} else {
					_, err = conn.Exec(ctx, "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", key, next.Add(1))
				}
				if err != nil {
					if ctx.Err() == nil && time.Now().Before(end) {
						errs[g] = fmt.Errorf("bare pgx: %w", err)
					}
					return
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	return ops.Load(), errors.Join(errs...)
}

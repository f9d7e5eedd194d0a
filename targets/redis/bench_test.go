//go:build linux

package redis

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

	goredis "github.com/redis/go-redis/v9"

	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/internal/sidebyside"
	"github.com/chaoscheck/chaoscheck/internal/testenv"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// bench holds the -sidebyside.* flags.
var bench = sidebyside.RegisterFlags(flag.CommandLine)

// BenchmarkSideBySide deploys a 2-node Redis in Replication mode (local
// runtime: network namespaces, needs root and redis-server) once, then
// measures in interleaved rounds a bare go-redis loop and the chaoscheck
// harness (runner.Drive: the register workload without CAS, the recorder
// and a history file) with the same concurrency, the same key space (the
// register workload's 5 keys) and the same op mix (GET and SET of unique
// values, half each), and reports both throughputs, their ratio and the
// allocations per operation. b.N is not used: run it with -benchtime=1x.
//
//	go test ./targets/redis -run '^$' -bench SideBySide -benchtime=1x
func BenchmarkSideBySide(b *testing.B) {
	if err := env.Err(); err != nil {
		b.Fatalf("this benchmark needs %s: %v", env.Needs, err)
	}
	ctx := context.Background()
	tg, err := New(Config{Mode: Replication, Nodes: 2, Runtime: local.Runtime{}, StateDir: testenv.StateDir(b, "redisbench")})
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
	bare := sidebyside.Contender{Name: "bare go-redis", Run: func(ctx context.Context, dur time.Duration) (int64, error) {
		return bareRedis(ctx, d, keys, n, dur)
	}}
	harness := sidebyside.Harness("chaoscheck", sidebyside.HarnessConfig{
		Config: runner.Config{Workloads: []workloads.Workload{wl}, Concurrency: n, Seed: 1},
		Dep:    dep,
		Dir:    b.TempDir(),
	})
	bench.Bench(ctx, b, bare, harness)
}

// bareRedis is what an application does: n goroutines, each with its own
// go-redis client to the primary (the options the harness's clients use),
// GET or SET (unique values) of a random key, half each, for dur. It
// returns the operations completed, whatever their outcome.
func bareRedis(ctx context.Context, d *Deployment, keys []string, n int, dur time.Duration) (int64, error) {
	end := time.Now().Add(dur)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	addr := d.srv.addr(d.repl.Primary())
	var ops, next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for g := range n {
		wg.Go(func() {
			c := goredis.NewClient(clientOptions(addr, poolSize, d.readTimeout()))
			defer c.Close()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for ctx.Err() == nil {
				key := keys[rng.IntN(len(keys))]
				var err error
				if rng.IntN(2) == 0 {
					err = c.Get(ctx, key).Err()
					if errors.Is(err, goredis.Nil) {
						err = nil
					}
				} else {
					err = c.Set(ctx, key, next.Add(1), 0).Err()
				}
				if err != nil {
					// The driver's socket deadline, taken from ctx, may fire
					// before ctx says it is done: both mean the round ended.
					if ctx.Err() == nil && time.Now().Before(end) {
						errs[g] = fmt.Errorf("bare go-redis: %w", err)
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

package sim

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkQuorumWriteRead measures raw throughput: each iteration is a
// QUORUM write then a QUORUM read of the same key, from parallel clients
// (8 per CPU) spread over the three coordinators. "no-latency" is the cost
// of the machinery itself; "latency=1ms" is the default network, where
// each op is bounded by its message round trips.
func BenchmarkQuorumWriteRead(b *testing.B) {
	for _, lat := range []time.Duration{-1, time.Millisecond} {
		name := "no-latency"
		if lat > 0 {
			name = "latency=" + lat.String()
		}
		b.Run(name, func(b *testing.B) {
			tgt, err := New(Config{NetworkLatency: lat})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			dep, err := tgt.Deploy(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := dep.Close(ctx); err != nil {
					b.Error(err)
				}
			}()
			var nextProcess, failures atomic.Int64
			b.SetParallelism(8) // 8 clients per CPU, as a test runs many processes
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				p := int(nextProcess.Add(1))
				c, err := dep.NewClient(ctx, p)
				if err != nil {
					b.Error(err)
					return
				}
				cl := c.(*Client)
				key := fmt.Sprintf("k%d", p)
				for i := int64(0); pb.Next(); i++ {
					if err := cl.Write(ctx, key, i); err != nil {
						failures.Add(1)
					}
					if _, _, err := cl.Read(ctx, key); err != nil {
						failures.Add(1)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "ops/s")
			if n := failures.Load(); n > 0 {
				b.Errorf("%d operations failed", n)
			}
		})
	}
}

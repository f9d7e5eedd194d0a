package sim

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/workloads"
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

// BenchmarkTxn measures list-append transactions of 4 micro-ops (2 reads,
// 2 appends) at QUORUM from parallel clients, with no network latency
// (the cost of the machinery) and the default 1 ms.
func BenchmarkTxn(b *testing.B) {
	for _, lat := range []time.Duration{-1, time.Millisecond} {
		name := "no-latency"
		if lat > 0 {
			name = "latency=" + lat.String()
		}
		b.Run(name, func(b *testing.B) {
			tgt, err := New(Config{NetworkLatency: lat, ReadCL: Quorum, WriteCL: Quorum})
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
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				p := int64(nextProcess.Add(1))
				c, err := dep.NewClient(ctx, int(p))
				if err != nil {
					b.Error(err)
					return
				}
				cl := c.(*Client)
				for i := int64(0); pb.Next(); i++ {
					k := p*1000 + i%8
					ops := []workloads.MicroOp{{F: "r", Key: k}, {F: "append", Key: k, Value: i}, {F: "append", Key: k + 1, Value: i}, {F: "r", Key: k + 1}}
					if err := cl.Txn(ctx, workloads.Lists, ops); err != nil {
						failures.Add(1)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txns/s")
			// On a loaded machine some time out (RequestTimeout): they
			// are counted, not hidden.
			b.ReportMetric(float64(failures.Load()), "failed")
		})
	}
}

package elle

import (
	"context"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
)

// heapPeak samples the live heap until stopped and returns its maximum.
func heapPeak() (stop func() uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			mu.Lock()
			peak = max(peak, s[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// BenchmarkListAppend1M checks a generated strict-serializable history of
// 1,000,000 list-append transactions (4 micro-ops each, 20 processes, 1%
// info) with the default model (strict-serializable: real-time edges
// included). It reports transactions per second and the peak live heap
// during the check, above the history itself.
//
//	go test ./checkers/elle -run '^$' -bench ListAppend1M -benchtime 1x
func BenchmarkListAppend1M(b *testing.B) {
	benchListAppend(b, 1_000_000)
}

// BenchmarkListAppend100k is the same on 100,000 transactions.
func BenchmarkListAppend100k(b *testing.B) {
	benchListAppend(b, 100_000)
}

func benchListAppend(b *testing.B, n int) {
	h, err := histgen.ListAppend(rand.New(rand.NewPCG(7, 11)), histgen.TxnConfig{Txns: n, Processes: 20, InfoFraction: 0.01, MopsPerTxn: 4})
	if err != nil {
		b.Fatal(err)
	}
	c := New(Options{Workload: ListAppend})
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		stop := heapPeak()
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		b.StartTimer()
		t0 := time.Now()
		r := c.Check(context.Background(), h)
		el := time.Since(t0)
		b.StopTimer()
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		peak := stop()
		cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
		if r.Verdict != checkers.Valid {
			b.Fatalf("%s %v %s", r.Verdict, r.AnomalyCounts, r.Reason)
		}
		b.ReportMetric(float64(n)/el.Seconds(), "txn/s")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "peak-MiB")
		b.ReportMetric(float64(base)/(1<<20), "history-MiB")
	}
}

// BenchmarkListAppendNoIsolation100k checks 100,000 transactions of a
// store without isolation: one large strongly connected component, and
// every class of cycle to search for in it.
func BenchmarkListAppendNoIsolation100k(b *testing.B) {
	h, err := histgen.ListAppend(rand.New(rand.NewPCG(7, 11)), histgen.TxnConfig{Txns: 100_000, Processes: 20, InfoFraction: 0.01, NoIsolation: true})
	if err != nil {
		b.Fatal(err)
	}
	c := New(Options{Workload: ListAppend})
	b.ResetTimer()
	for range b.N {
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		t0 := time.Now()
		r := c.Check(context.Background(), h)
		el := time.Since(t0)
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		if r.Verdict != checkers.Invalid {
			b.Fatalf("%s %v %s", r.Verdict, r.AnomalyCounts, r.Reason)
		}
		b.ReportMetric(float64(100_000)/el.Seconds(), "txn/s")
		b.ReportMetric(float64(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano())/1e9, "cpu-s")
		b.ReportMetric(float64(r.Counts["sccs"]), "sccs")
		b.Logf("%v %v", r.AnomalyCounts, r.Counts)
	}
}

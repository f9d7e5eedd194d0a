package history_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
)

// BenchmarkRecorderRecord measures Record as the runner's clients call it:
// many goroutines at once, streaming to a file. ns/op is per recorded op
// (wall time over all goroutines), allocs/op what each Record allocates.
func BenchmarkRecorderRecord(b *testing.B) {
	bench := func(b *testing.B, w *history.Writer) {
		r := history.NewRecorder(w)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int64(0)
			for pb.Next() {
				i++
				r.Record(history.Op{Type: history.OK, Process: 7, F: "write", Key: "register:3", Value: history.Int(i), Node: "n2"})
			}
		})
		b.StopTimer()
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	}
	b.Run("file", func(b *testing.B) {
		w, err := history.Create(filepath.Join(b.TempDir(), "h.jsonl"))
		if err != nil {
			b.Fatal(err)
		}
		bench(b, w)
	})
	b.Run("memory", func(b *testing.B) { bench(b, nil) })
}

// BenchmarkLoadJSONL measures loading a register history of 200k
// operations (400k ops in the file) as the runner and `chaoscheck check`
// do. B/op-held is the heap the loaded history keeps, per op (line).
func BenchmarkLoadJSONL(b *testing.B) {
	h, err := histgen.Register(rand.New(rand.NewPCG(1, 2)), histgen.Config{
		Ops: 200_000, Keys: 20, Processes: 50, InfoFraction: 0.01,
		ReadWeight: 1, WriteWeight: 1, CASWeight: 1, NotSwappedOK: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := range h.Ops {
		if h.Ops[i].Type != history.Invoke {
			h.Ops[i].Node = []string{"n1", "n2", "n3"}[i%3]
		}
	}
	path := filepath.Join(b.TempDir(), "history.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := history.WriteJSONL(f, h); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	n := len(h.Ops)
	h = nil
	var held float64
	var took time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var before, after runtime.MemStats
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		start := time.Now()
		got, _, err := history.Load(path, history.FormatJSONL)
		took += time.Since(start)
		if err != nil || len(got.Ops) != n {
			b.Fatalf("%v: %d ops", err, len(got.Ops))
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = float64(after.HeapAlloc-before.HeapAlloc) / float64(len(got.Ops))
		runtime.KeepAlive(got)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(held, "B/op-held")
	b.ReportMetric(float64(took.Nanoseconds())/float64(b.N*n), "ns/line")
}

// BenchmarkLoadJSONL1M measures loading a history.jsonl of 1,000,000 ops
// (lines: 500,000 register invocations and their completions, 50
// processes, 20 keys, nodes on completions) as `chaoscheck check` loads
// it (Load). Metrics: s/load (wall), cpu-s/load (user and system CPU time
// of the process, which a shared machine does not inflate), ns/line, and
// B/op-held, the heap the loaded history keeps per op (issue 16: at most
// 1 s and 200 B). The RSS of a process that loads it:
// scripts/bench-history.
func BenchmarkLoadJSONL1M(b *testing.B) {
	path := write1M(b)
	var held float64
	var took, cpu time.Duration
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var before, after runtime.MemStats
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime(b)
		got, _, err := history.Load(path, history.FormatJSONL)
		took += time.Since(start)
		cpu += cpuTime(b) - cpu0
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		n = len(got.Ops)
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
		runtime.KeepAlive(got)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(took.Seconds()/float64(b.N), "s/load")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/load")
	b.ReportMetric(float64(took.Nanoseconds())/float64(b.N*n), "ns/line")
	b.ReportMetric(held, "B/op-held")
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScanJSONL1M streams the same file through a JSONLFile, as the
// statistics, the measurements and the report read it: s/scan (wall),
// cpu-s/scan and ns/line.
func BenchmarkScanJSONL1M(b *testing.B) {
	path := write1M(b)
	src, err := history.OpenJSONL(path)
	if err != nil {
		b.Fatal(err)
	}
	var took, cpu time.Duration
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		n = 0
		start, cpu0 := time.Now(), cpuTime(b)
		if err := src.Scan(func(*history.Op) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
		cpu += cpuTime(b) - cpu0
	}
	b.StopTimer()
	b.ReportMetric(took.Seconds()/float64(b.N), "s/scan")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/scan")
	b.ReportMetric(float64(took.Nanoseconds())/float64(b.N*n), "ns/line")
}

// write1M writes the 1,000,000-op history of BenchmarkLoadJSONL1M.
func write1M(b *testing.B) string {
	b.Helper()
	h, err := histgen.Register(rand.New(rand.NewPCG(1, 2)), histgen.Config{
		Ops: 500_000, Keys: 20, Processes: 50, InfoFraction: 0.01,
		ReadWeight: 1, WriteWeight: 1, CASWeight: 1, NotSwappedOK: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := range h.Ops {
		if h.Ops[i].Type != history.Invoke {
			h.Ops[i].Node = []string{"n1", "n2", "n3"}[i%3]
		}
	}
	if len(h.Ops) != 1_000_000 {
		b.Fatalf("%d ops, want 1,000,000", len(h.Ops))
	}
	path := filepath.Join(b.TempDir(), "history.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := history.WriteJSONL(f, h); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

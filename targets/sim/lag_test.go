package sim

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/lag"
)

// sampleOf returns node's sample of one SampleLag round.
func sampleOf(t *testing.T, d *Deployment, node string) lag.Sample {
	t.Helper()
	ss, err := d.SampleLag(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Node == node {
			if s.LagNS == nil || s.Entries == nil || s.Err != "" {
				t.Fatalf("sample %+v: want figures", s)
			}
			return s
		}
	}
	t.Fatalf("no sample of %s in %+v", node, ss)
	return lag.Sample{}
}

// A replica cut off by a partition falls behind: its lag (the age of the
// oldest write it has not applied) grows while it is cut off, and goes
// back to zero once the writes reach it: by hinted handoff at the heal,
// or, without it, when a later write of the key covers the lost ones.
func TestSampleLagUnderPartition(t *testing.T) {
	for _, handoff := range []bool{true, false} {
		t.Run(map[bool]string{true: "handoff", false: "no-handoff"}[handoff], func(t *testing.T) {
			d, c := deploy(t, Config{ReadCL: One, WriteCL: One, HintedHandoff: handoff, ReplicationLag: 5 * time.Millisecond})
			ctx := testCtx(t)
			w := client(t, d, 0) // through n1
			mustWrite(t, w, "k", 1)
			eventually(t, "n2 and n3 have the first write", func() bool {
				return *sampleOf(t, d, "n2").Entries == 0 && *sampleOf(t, d, "n3").Entries == 0
			})
			if s := sampleOf(t, d, "n3"); *s.LagNS != 0 {
				t.Fatalf("n3 owes nothing but lags %v", time.Duration(*s.LagNS))
			}
			if err := c.Partition(ctx, cluster.Bidirectional([]string{"n1", "n2"}, []string{"n3"})); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, w, "k", 2)
			mustWrite(t, w, "k", 3)
			first := sampleOf(t, d, "n3")
			if *first.Entries != 2 {
				t.Fatalf("n3 owes %d writes, want 2", *first.Entries)
			}
			var later lag.Sample
			eventually(t, "n3's lag grows while it is cut off", func() bool {
				later = sampleOf(t, d, "n3")
				return *later.LagNS > *first.LagNS+int64(20*time.Millisecond)
			})
			eventually(t, "n2 has the writes", func() bool { return *sampleOf(t, d, "n2").Entries == 0 })
			if n2 := sampleOf(t, d, "n2"); *n2.LagNS != 0 {
				t.Fatalf("n2 owes nothing but lags %v", time.Duration(*n2.LagNS))
			}
			if err := c.HealNetwork(ctx); err != nil {
				t.Fatal(err)
			}
			if !handoff {
				// The writes sent while n3 was cut off are lost to it: it
				// stays behind until a write covers them.
				if s := sampleOf(t, d, "n3"); *s.LagNS < *later.LagNS || *s.Entries != 2 {
					t.Fatalf("without handoff n3 caught up at the heal: %+v", s)
				}
				mustWrite(t, w, "k", 4)
			}
			eventually(t, "n3 catches up after the heal", func() bool {
				s := sampleOf(t, d, "n3")
				return *s.Entries == 0 && *s.LagNS == 0
			})
			if v := peek(t, c, "n3", "k").reg.value; v != map[bool]int64{true: 3, false: 4}[handoff] {
				t.Fatalf("n3 holds %d", v)
			}
		})
	}
}

// The owed writes of one key stay bounded when a replica misses many:
// the newest are merged, and the oldest time is kept.
func TestOwedWritesBounded(t *testing.T) {
	d, c := deploy(t, Config{ReadCL: One, WriteCL: One, ReplicationLag: never})
	w := client(t, d, 0)
	for i := range 3 * maxOwedPerKey {
		mustWrite(t, w, "k", int64(i))
	}
	s := sampleOf(t, d, "n3")
	if *s.Entries != 3*maxOwedPerKey {
		t.Fatalf("n3 owes %d writes, want %d", *s.Entries, 3*maxOwedPerKey)
	}
	n3 := c.byName["n3"]
	n3.mu.Lock()
	kept := len(n3.owed["k"])
	n3.mu.Unlock()
	if kept > maxOwedPerKey {
		t.Fatalf("%d owed writes kept for one key", kept)
	}
}

// BenchmarkSampleLag is the cost of one sampling round with n3 cut off
// and owing writes of 5 keys: a round every 100 ms costs ns/op / 1e8 of
// one core.
func BenchmarkSampleLag(b *testing.B) {
	tg, err := New(Config{ReadCL: One, WriteCL: One, ReplicationLag: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	dep, err := tg.Deploy(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	d := dep.(*Deployment)
	defer d.Close(context.Background())
	if err := d.cluster.Partition(b.Context(), cluster.Bidirectional([]string{"n1", "n2"}, []string{"n3"})); err != nil {
		b.Fatal(err)
	}
	c, err := d.NewClient(b.Context(), 0)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if err := c.(*Client).Write(b.Context(), "k"+strconv.Itoa(i%5), int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.SampleLag(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

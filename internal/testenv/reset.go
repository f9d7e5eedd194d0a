package testenv

import (
	"context"
	"testing"

	"github.com/chaoscheck/chaoscheck/targets"
)

// resetRegister is what ResetEmptiesTheData needs of a client.
type resetRegister interface {
	Write(ctx context.Context, key string, v int64) error
	Read(ctx context.Context, key string) (int64, bool, error)
}

// ResetEmptiesTheData asserts what targets.Resetter promises, on a
// deployed cluster whose clients are registers: keys written before
// Reset read as never written after it, through new clients of several
// processes (so through several nodes), and the cluster takes writes
// again. The caller deploys dep and closes it.
func ResetEmptiesTheData(ctx context.Context, t *testing.T, dep targets.Deployment) {
	t.Helper()
	client := func(p int) resetRegister {
		c, err := dep.NewClient(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		r, ok := c.(resetRegister)
		if !ok {
			t.Fatalf("client %T has no register Read/Write", c)
		}
		return r
	}
	before := client(0)
	for _, k := range []string{"r1", "r2", "r3"} {
		if err := before.Write(ctx, k, 7); err != nil {
			t.Fatalf("write %s: %v", k, err)
		}
		if v, found, err := before.Read(ctx, k); err != nil || !found || v != 7 {
			t.Fatalf("read %s before the reset: %d %v %v", k, v, found, err)
		}
	}
	rs, ok := dep.(targets.Resetter)
	if !ok {
		t.Fatalf("deployment %T cannot Reset", dep)
	}
	if err := rs.Reset(ctx); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	for p := 1; p <= 3; p++ {
		after := client(p)
		for _, k := range []string{"r1", "r2", "r3"} {
			if v, found, err := after.Read(ctx, k); err != nil || found {
				t.Errorf("process %d: read %s after the reset: %d found=%v err=%v, want never written", p, k, v, found, err)
			}
		}
	}
	w := client(9)
	if err := w.Write(ctx, "r1", 8); err != nil {
		t.Fatalf("write after the reset: %v", err)
	}
	if v, found, err := w.Read(ctx, "r1"); err != nil || !found || v != 8 {
		t.Errorf("read after the reset and a write: %d %v %v", v, found, err)
	}
}

//go:build linux

package redis

import (
	"context"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/targets"
)

// register is what this test needs of a client.
type resetRegister interface {
	Write(ctx context.Context, key string, v int64) error
	Read(ctx context.Context, key string) (int64, bool, error)
}

// Reset empties the deployment: a key written before reads as never
// written after it, through a new client, and the cluster takes writes
// again (about 10 s).
func TestResetEmptiesTheData(t *testing.T) {
	requireEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tg, err := New(newConfig(t, Config{}))
	if err != nil {
		t.Fatal(err)
	}
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dep.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	client := func(p int) resetRegister {
		c, err := dep.NewClient(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c.(resetRegister)
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
	if err := dep.(targets.Resetter).Reset(ctx); err != nil {
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

package sim

import (
	"errors"
	"slices"
	"testing"

	"github.com/chaoscheck/chaoscheck/workloads"
)

// A transaction reads its own appends and writes, in order; another
// client's transaction sees them once replicated.
func TestTxnReadsOwnWrites(t *testing.T) {
	d, _ := deploy(t, Config{ReadCL: All, WriteCL: All})
	ctx := testCtx(t)
	ops := []workloads.MicroOp{{F: "r", Key: 1}, {F: "append", Key: 1, Value: 1}, {F: "append", Key: 1, Value: 2}, {F: "r", Key: 1}}
	if err := client(t, d, 0).Txn(ctx, workloads.Lists, ops); err != nil {
		t.Fatal(err)
	}
	if ops[0].Found || !ops[3].Found || !slices.Equal(ops[3].Read, []int64{1, 2}) {
		t.Fatalf("reads %v %v / %v %v, want none then [1 2]", ops[0].Found, ops[0].Read, ops[3].Found, ops[3].Read)
	}
	regs := []workloads.MicroOp{{F: "w", Key: 1, Value: 7}, {F: "r", Key: 1}}
	if err := client(t, d, 1).Txn(ctx, workloads.Registers, regs); err != nil {
		t.Fatal(err)
	}
	if !regs[1].Found || !slices.Equal(regs[1].Read, []int64{7}) {
		t.Fatalf("register read %v %v, want 7 (registers apart from lists)", regs[1].Found, regs[1].Read)
	}
	other := []workloads.MicroOp{{F: "r", Key: 1}}
	if err := client(t, d, 2).Txn(ctx, workloads.Lists, other); err != nil || !slices.Equal(other[0].Read, []int64{1, 2}) {
		t.Fatalf("other client read %v, %v; want [1 2]", other[0].Read, err)
	}
}

// With no isolation, another client's transaction lands between two reads
// of one transaction: the first read misses it and the second sees it
// (read skew). The interleaving is forced with two clients on one
// coordinator, run step by step.
func TestTxnNoIsolation(t *testing.T) {
	d, _ := deploy(t, Config{ReadCL: All, WriteCL: All})
	ctx := testCtx(t)
	c := client(t, d, 0)
	r1 := []workloads.MicroOp{{F: "r", Key: 1}}
	if err := c.Txn(ctx, workloads.Lists, r1); err != nil {
		t.Fatal(err)
	}
	w := []workloads.MicroOp{{F: "append", Key: 1, Value: 1}, {F: "append", Key: 2, Value: 1}}
	if err := client(t, d, 1).Txn(ctx, workloads.Lists, w); err != nil {
		t.Fatal(err)
	}
	r2 := []workloads.MicroOp{{F: "r", Key: 2}}
	if err := c.Txn(ctx, workloads.Lists, r2); err != nil || !slices.Equal(r2[0].Read, []int64{1}) {
		t.Fatalf("read %v %v", r2[0].Read, err)
	}
}

// An unavailable first micro-op is a Definite error (nothing written); an
// error after a write was sent is not.
func TestTxnErrors(t *testing.T) {
	d, c := deploy(t, Config{ReadCL: Quorum, WriteCL: Quorum})
	ctx := testCtx(t)
	for _, n := range []string{"n2", "n3"} {
		if err := c.Kill(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	err := client(t, d, 0).Txn(ctx, workloads.Lists, []workloads.MicroOp{{F: "r", Key: 1}, {F: "append", Key: 1, Value: 1}})
	if !errors.Is(err, ErrUnavailable) || !workloads.IsDefinite(err) {
		t.Fatalf("err = %v, want a Definite ErrUnavailable", err)
	}
	// A write refused before anything is sent (W=2, one replica up) is
	// Definite too.
	err = client(t, d, 0).Txn(ctx, workloads.Registers, []workloads.MicroOp{{F: "w", Key: 1, Value: 1}, {F: "r", Key: 1}})
	if !errors.Is(err, ErrUnavailable) || !workloads.IsDefinite(err) {
		t.Fatalf("err = %v, want a Definite ErrUnavailable", err)
	}
}

// An error after a write was acknowledged leaves the transaction partly
// applied: not Definite, though the failing step itself was.
func TestTxnPartialIsUnknown(t *testing.T) {
	d, c := deploy(t, Config{ReadCL: All, WriteCL: One})
	ctx := testCtx(t)
	if err := c.Kill(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	err := client(t, d, 0).Txn(ctx, workloads.Registers, []workloads.MicroOp{{F: "w", Key: 1, Value: 1}, {F: "r", Key: 1}})
	if !errors.Is(err, ErrUnavailable) || workloads.IsDefinite(err) {
		t.Fatalf("err = %v, want an ErrUnavailable that is not Definite", err)
	}
}

package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/chaoscheck/chaoscheck/workloads"
)

var _ workloads.TxnClient = (*Client)(nil)

// txnKey is where a transaction key lives in the key space: lists and
// registers apart, and apart from the single-key workloads' keys.
func txnKey(kind workloads.TxnKind, k int64) string {
	if kind == workloads.Registers {
		return fmt.Sprintf("txn-register:%d", k)
	}
	return fmt.Sprintf("txn-list:%d", k)
}

// Txn runs ops on one coordinator, one after the other, each exactly as a
// single operation runs, with NO isolation and no atomicity, as a Dynamo
// store runs a "transaction": a read is a read at R, a register write a
// write at W (last write wins), an append one write at W of a cell
// stamped with the coordinator's clock (a list is its cells in timestamp
// order, as a Cassandra list). Other clients' micro-ops interleave freely
// between them, so reads mix versions (read skew, G-single), concurrent
// read-then-write transactions both commit (write skew, G2), and reads
// of replicas that missed a write see lists that are not prefixes of
// later ones.
// A transaction reads its own writes as far as the replicas it reads
// from have them (the coordinator applies its writes locally first).
//
// Errors: an error before any write was sent that proves nothing was
// written is Definite (fail); any error after a write was sent leaves
// the transaction partly applied, so it is unknown (info).
func (cl *Client) Txn(ctx context.Context, kind workloads.TxnKind, ops []workloads.MicroOp) error {
	// Each micro-op takes up to two coordinator steps (an append reads
	// then writes), each up to RequestTimeout.
	d := time.Duration(2*len(ops)+1)*cl.c.cfg.RequestTimeout + 2*cl.c.cfg.NetworkLatency
	_, err := cl.callFor(ctx, "txn", d, func(co coordinator) result {
		return result{err: co.txn(kind, ops)}
	})
	return err
}

// txn runs ops on the coordinator; see Client.Txn.
func (co coordinator) txn(kind workloads.TxnKind, ops []workloads.MicroOp) error {
	// wrote: an earlier micro-op's write was sent (a write that failed
	// Definite sent nothing; one that failed otherwise is returned as is,
	// unknown).
	wrote := false
	// fail keeps a Definite error Definite only while nothing was sent.
	fail := func(i int, err error) error {
		err = fmt.Errorf("txn micro-op %d (%s %d): %w", i, ops[i].F, ops[i].Key, err)
		if wrote {
			return fmt.Errorf("%w (earlier writes of the transaction may have been applied)", workloads.Indefinite(err))
		}
		return err
	}
	for i := range ops {
		op := &ops[i]
		key := txnKey(kind, op.Key)
		switch {
		case op.F == "r":
			rec, err := co.read("txn read", key)
			if err != nil {
				return fail(i, err)
			}
			if kind == workloads.Registers {
				op.Read, op.Found = []int64{rec.reg.value}, rec.reg.ok
			} else {
				op.Read = rec.listElems()
				op.Found = op.Read != nil
			}
		case op.F == "w" && kind == workloads.Registers:
			if err := co.write("txn write", key, registerWrite(op.Value)); err != nil {
				return fail(i, err)
			}
			wrote = true
		case op.F == "append" && kind == workloads.Lists:
			v := op.Value
			if err := co.write("txn append", key, func(_ *record, now int64) *record {
				return &record{list: map[listCell]struct{}{{ts: now, value: v}: {}}}
			}); err != nil {
				return fail(i, err)
			}
			wrote = true
		default:
			return workloads.Definite(fmt.Errorf("sim: txn: micro-op %q on %s", op.F, kind))
		}
	}
	return nil
}

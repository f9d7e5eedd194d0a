//go:build linux

package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/chaoscheck/chaoscheck/workloads"
)

var _ workloads.TxnClient = (*RegisterClient)(nil)

// ErrTxnConflict is wrapped (Definite) by the error of a transaction whose
// commit found a key it touched modified since its snapshot: etcd applied
// nothing.
var ErrTxnConflict = errors.New("etcd: a key of the transaction changed since its snapshot; nothing written")

// txnKey names a transaction key; lists and registers live apart.
func txnKey(kind workloads.TxnKind, k int64) string {
	if kind == workloads.Registers {
		return fmt.Sprintf("txn-register:%d", k)
	}
	return fmt.Sprintf("txn-list:%d", k)
}

// txnState is one key as the transaction sees it.
type txnState struct {
	vals    []int64 // the list, or the register's one value
	found   bool
	modRev  int64 // at the snapshot; 0 when the key did not exist
	written bool
}

// Txn runs ops with optimistic concurrency: one read-only etcd Txn gets
// every key the transaction touches at one revision (a linearizable read,
// or serializable with --etcd-read serializable); the micro-ops are
// computed on that snapshot (reads see the transaction's own earlier
// writes); then, if anything was written, one etcd Txn puts the written
// keys if and only if every touched key's mod_revision is still the
// snapshot's (0: still absent). etcd applies a Txn atomically at one
// revision, so committed transactions are strict serializable (a
// read-only one, at the serializable read mode, only serializable: it may
// read a stale member). Lists are stored as comma-separated decimals,
// registers as one decimal.
//
// Errors: the snapshot's errors are Definite (nothing was written); a
// commit whose comparison failed is Definite (ErrTxnConflict); the
// commit's other errors go through classify (a timeout after the request
// left is unknown: info).
func (c *RegisterClient) Txn(ctx context.Context, kind workloads.TxnKind, ops []workloads.MicroOp) error {
	state := map[string]*txnState{}
	var keys []string
	for _, op := range ops {
		k := txnKey(kind, op.Key)
		if _, ok := state[k]; !ok {
			state[k] = &txnState{}
			keys = append(keys, k)
		}
	}
	gets := make([]*pb.RequestOp, len(keys))
	for i, k := range keys {
		gets[i] = &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte(k), Serializable: c.read == Serializable}}}
	}
	snap, err := c.kv.Txn(ctx, &pb.TxnRequest{Success: gets}, grpc.WaitForReady(true))
	if err != nil {
		return workloads.Definite(fmt.Errorf("etcd: txn snapshot: %w", err))
	}
	if len(snap.Responses) != len(keys) {
		return workloads.Definite(fmt.Errorf("etcd: txn snapshot: %d answers for %d keys", len(snap.Responses), len(keys)))
	}
	for i, r := range snap.Responses {
		kvs := r.GetResponseRange().GetKvs()
		if len(kvs) == 0 {
			continue
		}
		st := state[keys[i]]
		st.found, st.modRev = true, kvs[0].ModRevision
		if st.vals, err = decodeInts(string(kvs[0].Value)); err != nil {
			return workloads.Definite(fmt.Errorf("etcd: txn snapshot: %s: %w", keys[i], err))
		}
	}
	for i := range ops {
		op := &ops[i]
		st := state[txnKey(kind, op.Key)]
		switch {
		case op.F == "r":
			op.Read, op.Found = append([]int64(nil), st.vals...), st.found
		case op.F == "append" && kind == workloads.Lists:
			st.vals = append(st.vals, op.Value)
			st.found, st.written = true, true
		case op.F == "w" && kind == workloads.Registers:
			st.vals = []int64{op.Value}
			st.found, st.written = true, true
		default:
			return workloads.Definite(fmt.Errorf("etcd: txn: micro-op %q on %s", op.F, kind))
		}
	}
	var cmps []*pb.Compare
	var puts []*pb.RequestOp
	for _, k := range keys {
		st := state[k]
		cmps = append(cmps, &pb.Compare{Key: []byte(k), Target: pb.Compare_MOD, Result: pb.Compare_EQUAL,
			TargetUnion: &pb.Compare_ModRevision{ModRevision: st.modRev}})
		if st.written {
			puts = append(puts, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k), Value: []byte(encodeInts(st.vals))}}})
		}
	}
	if len(puts) == 0 {
		return nil // read-only: the snapshot is the transaction
	}
	resp, err := c.kv.Txn(clientv3.WithRequireLeader(ctx), &pb.TxnRequest{Compare: cmps, Success: puts}, grpc.WaitForReady(true))
	if err != nil {
		return classify("txn commit", err)
	}
	if !resp.Succeeded {
		return workloads.Definite(ErrTxnConflict)
	}
	return nil
}

func encodeInts(vs []int64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(parts, ",")
}

func decodeInts(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]int64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("value %q is not a list of integers: %w", s, err)
		}
		out[i] = v
	}
	return out, nil
}

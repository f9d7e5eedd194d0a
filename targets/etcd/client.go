//go:build linux

package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chaoscheck/chaoscheck/workloads"
)

// RegisterClient is one process's etcd client: integer registers stored as
// decimal strings under their key. It implements workloads.RegisterClient
// and workloads.NodeReporter.
//
// Reads use clientv3 Get (WithSerializable in Serializable mode). Writes
// and compare-and-sets go through the raw KV gRPC service on the same
// connection (the very request clientv3 would send, with the same retry
// interceptor and WaitForReady), so that the gRPC status reaches
// classify intact: clientv3 replaces a DeadlineExceeded status by the bare
// context error, which would hide whether the request ever left the
// client. Writes carry clientv3.WithRequireLeader, so a member that knows
// of no leader refuses them before proposing. Every request is sent at
// most once (see newClient).
type RegisterClient struct {
	cli  *clientv3.Client
	kv   pb.KVClient
	read ReadMode
	node string
}

var (
	_ workloads.RegisterClient = (*RegisterClient)(nil)
	_ workloads.NodeReporter   = (*RegisterClient)(nil)
)

func newRegisterClient(cli *clientv3.Client, read ReadMode, node string) *RegisterClient {
	return &RegisterClient{cli: cli, kv: pb.NewKVClient(cli.ActiveConnection()), read: read, node: node}
}

// LastNode is the sticky member, or "" when the client balances over all
// members (the balancer does not say which one served a request).
func (c *RegisterClient) LastNode() string { return c.node }

// Close closes the connection.
func (c *RegisterClient) Close() error {
	if err := c.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcd: close client: %w", err)
	}
	return nil
}

// Read returns key's value; found=false when the key does not exist. Any
// error is returned as is (wrapped): the workload records a failed read
// as fail, whatever the cause.
func (c *RegisterClient) Read(ctx context.Context, key string) (int64, bool, error) {
	var opts []clientv3.OpOption
	if c.read == Serializable {
		opts = append(opts, clientv3.WithSerializable())
	}
	resp, err := c.cli.Get(ctx, key, opts...)
	if err != nil {
		return 0, false, fmt.Errorf("etcd: get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("etcd: get %s: value %q is not an integer: %w", key, resp.Kvs[0].Value, err)
	}
	return v, true, nil
}

// Write puts value under key. Errors are classified by classify.
func (c *RegisterClient) Write(ctx context.Context, key string, value int64) error {
	_, err := c.kv.Put(clientv3.WithRequireLeader(ctx),
		&pb.PutRequest{Key: []byte(key), Value: []byte(strconv.FormatInt(value, 10))},
		grpc.WaitForReady(true))
	return classify("put "+key, err)
}

// CAS puts new under key in a transaction whose only guard is that key's
// value equals old; swapped is the transaction's Succeeded (false, with a
// nil error, when the comparison failed, including when key does not
// exist). Errors are classified by classify.
func (c *RegisterClient) CAS(ctx context.Context, key string, old, new int64) (bool, error) {
	k := []byte(key)
	resp, err := c.kv.Txn(clientv3.WithRequireLeader(ctx), &pb.TxnRequest{
		Compare: []*pb.Compare{{
			Key: k, Target: pb.Compare_VALUE, Result: pb.Compare_EQUAL,
			TargetUnion: &pb.Compare_Value{Value: []byte(strconv.FormatInt(old, 10))},
		}},
		Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{
			RequestPut: &pb.PutRequest{Key: k, Value: []byte(strconv.FormatInt(new, 10))},
		}}},
	}, grpc.WaitForReady(true))
	if err != nil {
		return false, classify(fmt.Sprintf("cas %s %d->%d", key, old, new), err)
	}
	return resp.Succeeded, nil
}

// definiteErrors are server errors returned before the request is
// proposed to raft (validation, admission, leadership and auth checks), or
// that reject a request as a whole, so nothing of it was applied:
//
//   - request validation (InvalidArgument): empty key, too many
//     operations, duplicate key in a txn, request too large, bad sort;
//   - ErrTooManyRequests: the member refuses to propose while its applied
//     index lags its committed index too much (checked before proposing);
//   - ErrNoSpace: the NOSPACE alarm is on; the quota check refuses the
//     request before proposing (and a capped member would not apply it);
//   - ErrNoLeader: with WithRequireLeader, the member's gRPC interceptor
//     refuses the request before handling it when it knows no leader;
//   - ErrNotCapable: refused by the interceptor;
//   - auth errors (permission denied, invalid token, ...): the request is
//     refused before proposing or rejected whole at apply time;
//   - ErrCompacted, ErrFutureRev: a txn reading a bad revision is rejected
//     as a whole before any of its writes (cannot arise here: no
//     revisions are used).
//
// Everything else a server returns for a write is ambiguous, notably
// "request timed out" (and its leader-fail/connection-lost variants),
// "server stopped", "leader changed": the proposal may already be in the
// raft log and commit later.
var definiteErrors = []error{
	rpctypes.ErrEmptyKey, rpctypes.ErrValueProvided, rpctypes.ErrLeaseProvided,
	rpctypes.ErrTooManyOps, rpctypes.ErrDuplicateKey, rpctypes.ErrInvalidSortOption,
	rpctypes.ErrRequestTooLarge, rpctypes.ErrTooManyRequests, rpctypes.ErrNoSpace,
	rpctypes.ErrNoLeader, rpctypes.ErrNotCapable,
	rpctypes.ErrPermissionDenied, rpctypes.ErrInvalidAuthToken, rpctypes.ErrAuthFailed,
	rpctypes.ErrAuthOldRevision,
	rpctypes.ErrCompacted, rpctypes.ErrFutureRev,
}

// proposalDropped is the message of raft.ErrProposalDropped, which etcd
// 3.4 passes to the client as codes.Unknown: the member's own raft node
// refused to append the proposal (no known leader, leadership transfer in
// progress, or the uncommitted-entries limit), so it is in no log.
const proposalDropped = "raft proposal dropped"

// classify maps a Put or Txn error to the workload's rule: nil stays nil;
// errors proven to have had no effect are wrapped with workloads.Definite
// (recorded fail); everything else is returned wrapped, outcome unknown
// (recorded info). When in doubt, unknown. Proven no effect:
//
//   - clientv3.ErrNoAvailableEndpoints: nothing to send to;
//   - a DeadlineExceeded or Canceled status raised by gRPC's picker
//     ("latest balancer error: ..." or "... while waiting for connections
//     to become ready"): the request was waiting for a ready connection
//     (WaitForReady) and never left the client, e.g. a sticky client whose
//     member is killed;
//   - the server errors of definiteErrors and raft's proposal-dropped.
//
// A deadline or cancellation at any other point (after the request was
// sent, or anywhere we cannot tell) is unknown, as are transport errors
// (Unavailable: connection reset, "transport is closing"...), which may
// hit a request the member already proposed.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	wrapped := fmt.Errorf("etcd: %s: %w", op, err)
	if isDefinite(err) {
		return workloads.Definite(wrapped)
	}
	return wrapped
}

// isDefinite reports whether a write error proves the write had no
// effect (see classify).
func isDefinite(err error) bool {
	if errors.Is(err, clientv3.ErrNoAvailableEndpoints) {
		return true
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.DeadlineExceeded, codes.Canceled:
			msg := st.Message()
			return strings.HasPrefix(msg, "latest balancer error:") ||
				strings.HasSuffix(msg, "while waiting for connections to become ready")
		case codes.Unknown:
			if st.Message() == proposalDropped {
				return true
			}
		}
	}
	ev := rpctypes.Error(err)
	var etcdErr rpctypes.EtcdError
	if !errors.As(ev, &etcdErr) {
		return false
	}
	for _, d := range definiteErrors {
		if errors.Is(etcdErr, d) {
			return true
		}
	}
	return false
}

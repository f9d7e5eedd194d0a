//go:build linux

package etcd

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/workloads"
)

func TestParseReadMode(t *testing.T) {
	for in, want := range map[string]ReadMode{"linearizable": Linearizable, "Serializable": Serializable} {
		got, err := ParseReadMode(in)
		if err != nil || got != want {
			t.Errorf("ParseReadMode(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() != want.String() {
			t.Errorf("String: %q", got.String())
		}
	}
	if _, err := ParseReadMode("quorum"); err == nil {
		t.Error("ParseReadMode(quorum): no error")
	}
}

func TestConfigDefaults(t *testing.T) {
	tg, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := tg.Config()
	if c.Nodes != 3 || c.Read != Linearizable || !c.preVote() || c.Binary != "" || tg.Name() != "etcd" {
		t.Errorf("defaults: %+v", c)
	}
	if tg, _ := New(Config{PreVote: Bool(false)}); tg.Config().preVote() {
		t.Error("PreVote: Bool(false) ignored")
	}
	for _, bad := range []Config{{Nodes: -1}, {Read: 7}} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v): no error", bad)
		}
	}
}

// TestClusterRefusesClock: the wrapper lacks ClockSkewer, and the
// target's plan says so, so clock faults are refused before deploying.
func TestClusterRefusesClock(t *testing.T) {
	var c cluster.Cluster = &Cluster{}
	if _, ok := c.(cluster.ClockSkewer); ok {
		t.Fatal("etcd Cluster implements ClockSkewer")
	}
	tg, err := New(Config{Runtime: local.Runtime{}})
	if err != nil {
		t.Fatal(err)
	}
	err = nemesis.CheckPlan([]nemesis.Fault{&nemesis.Clock{}}, tg.Plan())
	if !errors.Is(err, cluster.ErrUnsupported) || !strings.Contains(err.Error(), "Go program") {
		t.Fatalf("clock fault on etcd's plan: %v, want ErrUnsupported", err)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err      error
		definite bool
	}{
		{rpctypes.ErrGRPCNoLeader, true},
		{rpctypes.ErrGRPCRequestTooManyRequests, true},
		{rpctypes.ErrGRPCEmptyKey, true},
		{rpctypes.ErrGRPCRequestTooLarge, true},
		{status.Error(codes.Unknown, "raft proposal dropped"), true},
		{status.Error(codes.DeadlineExceeded, "latest balancer error: connection error: desc = \"transport: Error while dialing: dial tcp 10.0.0.1:2379: connect: connection refused\""), true},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded while waiting for connections to become ready"), true},
		{rpctypes.ErrGRPCTimeout, false},
		{rpctypes.ErrGRPCTimeoutDueToLeaderFail, false},
		{rpctypes.ErrGRPCTimeoutDueToConnectionLost, false},
		{rpctypes.ErrGRPCStopped, false},
		{rpctypes.ErrGRPCLeaderChanged, false},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), false},
		{status.Error(codes.Unavailable, "error reading from server: EOF"), false},
		{context.DeadlineExceeded, false},
		{errors.New("something else"), false},
	}
	for _, c := range cases {
		err := classify("put k", c.err)
		if err == nil || !errors.Is(err, c.err) {
			t.Errorf("classify(%v) = %v: does not wrap the cause", c.err, err)
		}
		if got := workloads.IsDefinite(err); got != c.definite {
			t.Errorf("classify(%v): definite %v, want %v", c.err, got, c.definite)
		}
	}
	if classify("put k", nil) != nil {
		t.Error("classify(nil) != nil")
	}
}

// TestWriteToDeadEndpointIsDefinite: a write that never finds a ready
// connection fails definitely (it never left the client), while a read
// just fails. No server needed: the endpoint is a closed local port.
func TestWriteToDeadEndpointIsDefinite(t *testing.T) {
	cli, err := newClient([]string{"http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	c := newRegisterClient(cli, Linearizable, "")
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = c.Write(ctx, "k", 1)
	if err == nil || !workloads.IsDefinite(err) {
		t.Errorf("write to a dead endpoint: %v, want a definite error", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	if _, err := c.CAS(ctx2, "k", 1, 2); err == nil || !workloads.IsDefinite(err) {
		t.Errorf("cas to a dead endpoint: %v, want a definite error", err)
	}
	t.Logf("write error: %v", err)
}

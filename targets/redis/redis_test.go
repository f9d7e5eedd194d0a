//go:build linux

package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/workloads"
)

func TestParseAndValidate(t *testing.T) {
	for s, want := range map[string]Mode{"cluster": Cluster, " Replication ": Replication} {
		if m, err := ParseMode(s); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("sentinel"); err == nil {
		t.Error("ParseMode(sentinel): no error")
	}
	for s, want := range map[string]int{"off": 0, "0": 0, "2": 2} {
		if n, err := ParseWait(s); err != nil || n != want {
			t.Errorf("ParseWait(%q) = %d, %v", s, n, err)
		}
	}
	if _, err := ParseWait("-1"); err == nil {
		t.Error("ParseWait(-1): no error")
	}
	ok := []Config{
		{},
		{ReplicasPerMaster: 1, Wait: 1},
		{Mode: Replication},
		{Mode: Replication, Nodes: 2, Wait: 1},
	}
	for _, c := range ok {
		if _, err := New(c); err != nil {
			t.Errorf("New(%+v): %v", c, err)
		}
	}
	tg, _ := New(Config{})
	if got := tg.Config(); got.Nodes != 3 || got.WaitTimeout != DefaultWaitTimeout || got.User != "redis" {
		t.Errorf("defaults: %+v", got)
	}
	tg, _ = New(Config{ReplicasPerMaster: 1})
	if got := tg.Config().Nodes; got != 6 {
		t.Errorf("cluster with 1 replica per master: %d nodes, want 6", got)
	}
	bad := []Config{
		{Nodes: 4},
		{Wait: 1}, // cluster without replicas
		{Mode: Replication, Nodes: 1},
		{Mode: Replication, Wait: 3},
		{Mode: Replication, ReplicasPerMaster: 1},
		{Mode: Mode(7)},
		{Mode: Replication, Wait: 1, WaitTimeout: time.Microsecond},
	}
	for _, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v): no error", c)
		}
	}
}

func TestClassify(t *testing.T) {
	definite := []error{
		goredis.ErrPoolTimeout,
		goredis.ErrClosed,
		&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")},
		fmt.Errorf("wrapped: %w", &net.OpError{Op: "dial", Net: "tcp", Err: context.DeadlineExceeded}),
	}
	for _, e := range definite {
		if got := Classify(e); !workloads.IsDefinite(got) {
			t.Errorf("Classify(%v) is not Definite", e)
		}
	}
	unknown := []error{
		context.DeadlineExceeded,
		&net.OpError{Op: "read", Net: "tcp", Err: errors.New("i/o timeout")},
		fmt.Errorf("x: %w", ErrWaitShort),
		errors.New("EOF"),
	}
	for _, e := range unknown {
		if got := Classify(e); workloads.IsDefinite(got) || got == nil {
			t.Errorf("Classify(%v) = %v, want an unknown outcome", e, got)
		}
	}
	if Classify(nil) != nil {
		t.Error("Classify(nil) != nil")
	}
}

func TestParseCommandStats(t *testing.T) {
	txt := "# Commandstats\r\n" +
		"cmdstat_sadd:calls=120,usec=300,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_smembers:calls=30,usec=90,usec_per_call=3.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=9,usec=1,usec_per_call=0.1,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_cluster|slots:calls=4,usec=1,usec_per_call=0.1,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_wait:calls=100,usec=1,usec_per_call=0.1,rejected_calls=0,failed_calls=0\r\n"
	n, err := parseCommandStats(txt)
	if err != nil || n != 150 {
		t.Fatalf("parseCommandStats = %d, %v; want 150", n, err)
	}
	if _, err := parseCommandStats("cmdstat_get:calls=x,usec=1\r\n"); err == nil {
		t.Error("bad calls: no error")
	}
	in := parseInfo("# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n")
	if in["role"] != "slave" || in["master_link_status"] != "up" {
		t.Errorf("parseInfo: %v", in)
	}
}

// TestNoClockSkew: neither fault surface exposes clock skew.
func TestNoClockSkew(t *testing.T) {
	var cs []cluster.Cluster = []cluster.Cluster{&Servers{}, newReplicated(&Servers{}, "n1")}
	for _, c := range cs {
		if _, ok := c.(cluster.ClockSkewer); ok {
			t.Errorf("%T implements cluster.ClockSkewer", c)
		}
	}
	if _, ok := cs[1].(cluster.Failoverer); !ok {
		t.Error("Replicated is not a cluster.Failoverer")
	}
	if _, ok := cs[0].(cluster.Failoverer); ok {
		t.Error("Servers (cluster mode) claims failover")
	}
}

func TestConf(t *testing.T) {
	// The durability lines of redis.conf (the rest needs node addresses,
	// covered by the integration tests).
	s := &server{cfg: Config{AppendOnly: true}}
	if !strings.Contains(durabilityLines(s), "appendfsync always") {
		t.Error("AppendOnly does not set appendfsync always")
	}
	s.cfg.AppendOnly = false
	if l := durabilityLines(s); !strings.Contains(l, "appendonly no") || !strings.Contains(l, "save \"\"") {
		t.Errorf("no persistence: %q", l)
	}
}

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// --max-replica-lag is refused before anything is deployed (exit 254,
// nothing stored) where it cannot act: without --read-from replica, on a
// target without the policy, on Redis cluster mode.
func TestMaxReplicaLagRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--target", "sim", "--max-replica-lag", "10ms"}, []string{"--max-replica-lag", "postgres", "redis"}},
		{[]string{"--target", "etcd", "--max-replica-lag", "10ms"}, []string{"--max-replica-lag", "postgres", "redis"}},
		{[]string{"--target", "cassandra", "--read-from", "replica"}, []string{"--read-from", "postgres", "redis"}},
		{[]string{"--target", "postgres", "--max-replica-lag", "10ms"}, []string{"--max-replica-lag needs --read-from replica"}},
		{[]string{"--target", "postgres", "--read-from", "any", "--max-replica-lag", "10ms"}, []string{"--read-from replica", "any"}},
		{[]string{"--target", "postgres", "--read-from", "replica", "--max-replica-lag", "0s"}, []string{"--max-replica-lag", "positive"}},
		{[]string{"--target", "redis", "--read-from", "replica", "--max-replica-lag", "10ms"}, []string{"--redis-mode replication"}},
		{[]string{"--target", "redis", "--read-from", "replica"}, []string{"--redis-mode replication"}},
		{[]string{"--target", "redis", "--redis-mode", "replication", "--max-replica-lag", "10ms"}, []string{"--max-replica-lag needs --read-from replica"}},
		{[]string{"--target", "redis", "--redis-mode", "replication", "--read-from", "any"}, []string{"--read-from", "primary or replica"}},
	} {
		st := filepath.Join(t.TempDir(), "store")
		args := append([]string{"test", "--store", st, "--time-limit", "1s"}, c.args...)
		code, stderr := runCapture(args...)
		if code != exitBadInput {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, exitBadInput, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q does not name %q", c.args, stderr, w)
			}
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: more than one line: %q", c.args, stderr)
		}
		if e := storeEntries(t, st); len(e) > 0 {
			t.Errorf("%v: the store holds %v, want nothing", c.args, e)
		}
	}
}

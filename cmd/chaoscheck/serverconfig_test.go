package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/workloads"
)

// TestServerConfigRefused: a --server-config file that sets a setting
// chaoscheck controls is refused before anything is deployed, with exit
// 254 and one line naming the file, the line and the setting; so is a
// file with a syntax error, a missing file, and the flag on the sim
// (which has no server configuration). Nothing is left in the store.
func TestServerConfigRefused(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pgPort := file("port.conf", "# ours\nsynchronous_commit = off\nport = 6543\n")
	pgData := file("data.conf", "data_directory = '/var/lib/postgresql/15/main'\n")
	pgConninfo := file("conninfo.conf", "work_mem = 8MB\n\nprimary_conninfo = 'host=db1'\n")
	pgSyntax := file("syntax.conf", "work_mem = 8MB\nshared_buffers = 1 GB\n")
	redisDir := file("redis.conf", "maxmemory-policy allkeys-lru\ndir /data\n")
	redisReplicaof := file("replicaof.conf", "replicaof 10.0.0.1 6379\n")
	cassSeeds := file("cassandra.yaml", "concurrent_reads: 16\nseed_provider:\n  - class_name: x\n")
	cassDirs := file("dirs.yaml", "data_file_directories:\n  - /data\n")
	etcdData := file("etcd.flags", "--heartbeat-interval=200\n--data-dir=/var/lib/etcd\n")
	etcdCluster := file("cluster.flags", "--initial-cluster=a=http://x:2380\n")
	ok := file("ok.conf", "work_mem = 8MB\n")
	for _, c := range []struct {
		args []string
		want []string // in the one error line
	}{
		{[]string{"--target", "postgres", "--server-config", pgPort}, []string{pgPort + ":3:", "port is set by chaoscheck"}},
		{[]string{"--target", "postgres", "--server-config", pgData}, []string{pgData + ":1:", "data_directory"}},
		{[]string{"--target", "postgres", "--server-config", pgConninfo}, []string{pgConninfo + ":3:", "primary_conninfo", "replication wiring"}},
		{[]string{"--target", "postgres", "--server-config", pgSyntax}, []string{pgSyntax + ":2:", "shared_buffers"}},
		{[]string{"--target", "postgres", "--server-config", filepath.Join(dir, "missing.conf")}, []string{"--server-config", "missing.conf"}},
		{[]string{"--target", "redis", "--server-config", redisDir}, []string{redisDir + ":2:", "dir is set by chaoscheck"}},
		{[]string{"--target", "redis", "--redis-mode", "replication", "--server-config", redisReplicaof}, []string{redisReplicaof + ":1:", "replicaof"}},
		{[]string{"--target", "cassandra", "--server-config", cassSeeds}, []string{cassSeeds + ":2:", "seed_provider"}},
		{[]string{"--target", "cassandra", "--server-config", cassDirs}, []string{cassDirs + ":1:", "data_file_directories"}},
		{[]string{"--target", "etcd", "--server-config", etcdData}, []string{etcdData + ":2:", "data-dir"}},
		{[]string{"--target", "etcd", "--server-config", etcdCluster}, []string{etcdCluster + ":1:", "initial-cluster"}},
		{[]string{"--target", "sim", "--server-config", ok}, []string{"--server-config applies to --target", "not sim"}},
		{[]string{"--server-config", ok}, []string{"--server-config applies to --target", "not sim"}},
	} {
		st := filepath.Join(t.TempDir(), "store")
		args := append([]string{"test", "--store", st, "--time-limit", "1s"}, c.args...)
		code, stderr := runCapture(args...)
		if code != exitBadInput {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, exitBadInput, stderr)
		}
		if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 {
			t.Errorf("%v: stderr has %d lines: %q", c.args, lines, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q lacks %q", c.args, stderr, w)
			}
		}
		if strings.Contains(stderr, "deploying") {
			t.Errorf("%v: deployed before refusing: %q", c.args, stderr)
		}
		if e := storeEntries(t, st); len(e) > 0 {
			t.Errorf("%v: the store holds %v, want nothing", c.args, e)
		}
	}
}

// TestWorkloadTableFlags: every option flag a workload row reads is a
// flag of `chaoscheck test` that checkApplies looks at, and every such
// flag is read by some workload.
func TestWorkloadTableFlags(t *testing.T) {
	fs := newTestCmd().Flags()
	read := map[string]bool{}
	for _, r := range workloads.Workloads() {
		for _, f := range r.Reads {
			read[f] = true
			if !slices.Contains(workloadOptionFlags, f) || fs.Lookup(f) == nil {
				t.Errorf("workload %s reads --%s, which is not a checked flag of test", r.Name, f)
			}
		}
	}
	for _, f := range workloadOptionFlags {
		if !read[f] {
			t.Errorf("--%s is read by no workload", f)
		}
	}
}

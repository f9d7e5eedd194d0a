//go:build linux

package local

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// The runtime's Hosts: a node spec's files and data directory are placed
// (owned by its user) before the first start and left alone by Restart;
// Log names the process's log; Stop ends a process that obeys SIGTERM
// and one that ignores it; CopyIn and CopyOut copy trees; and the
// capabilities the plan declares are the ones the Hosts implement.
func TestRuntimeHosts(t *testing.T) {
	requireTools(t)
	ctx := t.Context()
	c, _ := up(t, 2, "10.78.7.0/24")
	var h cluster.Hosts = Hosts{c}
	t.Cleanup(func() {
		if err := h.Close(t.Context()); err != nil {
			t.Error(err)
		}
	})
	rt := Runtime{}
	for _, c := range rt.Plan(2).Supported {
		if !slices.Contains(cluster.Capabilities(h), c) {
			t.Errorf("plan declares %s, Hosts lack it", c)
		}
	}
	dir := c.StateDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // t.TempDir is 0700: let the server user in
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "n1", "data")
	conf := filepath.Join(dir, "n1", "conf", "app.conf")
	spec := cluster.NodeSpec{
		Name: "sh", Path: "/bin/sh", Args: []string{"-c", "cat " + conf + "; echo started; exec sleep 600"},
		UID: 65534, GID: 65534, DataDir: data,
		Files: []cluster.File{{Path: conf, Data: []byte("key = 1\n"), Mode: 0o600}},
	}
	p, err := h.Start(ctx, "n1", spec)
	if err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{data: os.ModeDir | 0o700, conf: 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode || st.Sys().(*syscall.Stat_t).Uid != 65534 {
			t.Errorf("%s: mode %v uid %d, want %v uid 65534", path, st.Mode(), st.Sys().(*syscall.Stat_t).Uid, mode)
		}
	}
	log := h.Log("n1", "sh")
	if log != filepath.Join(dir, "logs", "n1-sh.log") {
		t.Errorf("Log = %q", log)
	}
	if !pollUntil(ctx, 10e9, func() bool { b, _ := os.ReadFile(log); return strings.Contains(string(b), "key = 1\nstarted") }) {
		b, _ := os.ReadFile(log)
		t.Fatalf("log %s: %q", log, b)
	}
	// Stop: sleep obeys SIGTERM.
	if err := h.Stop(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("running after Stop")
	}
	// Restart keeps the node's files: a changed file is not overwritten.
	if err := os.WriteFile(conf, []byte("key = 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Restart(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(ctx, 10e9, func() bool { b, _ := os.ReadFile(log); return strings.Contains(string(b), "key = 2\nstarted") }) {
		b, _ := os.ReadFile(log)
		t.Fatalf("log after restart %s: %q", log, b)
	}
	// Stop of a process that ignores SIGTERM kills it after StopTimeout.
	stubborn, err := h.Start(ctx, "n2", cluster.NodeSpec{Name: "stubborn", Path: "/bin/sh", Args: []string{"-c", "trap '' TERM; echo up; while :; do sleep 1; done"}})
	if err != nil {
		t.Fatal(err)
	}
	if !pollUntil(ctx, 10e9, func() bool { b, _ := os.ReadFile(h.Log("n2", "stubborn")); return strings.Contains(string(b), "up") }) {
		t.Fatal("stubborn never started")
	}
	if err := h.Stop(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if stubborn.Running() {
		t.Fatal("stubborn process running after Stop")
	}
	if len(h.Processes("n2")) != 1 || h.Processes("n2")[0].Name() != "stubborn" {
		t.Errorf("Processes(n2) = %v", h.Processes("n2"))
	}
	// Copy a tree in and back out.
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a", "b", "f"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "n2", "in")
	if err := h.CopyIn(ctx, "n2", src, in); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := h.CopyOut(ctx, "n2", filepath.Join(in, "a", "b", "f"), out); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "x" {
		t.Errorf("copied back %q %v", b, err)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("copied mode %v %v, want 0640", st.Mode(), err)
	}
	if err := h.CopyIn(ctx, "n9", src, in); err == nil {
		t.Error("CopyIn to an unknown node succeeded")
	}
}

// The registry builds the local runtime by name and refuses others,
// naming what exists.
func TestRuntimeRegistration(t *testing.T) {
	r := cluster.RuntimeRegistry{Registration()}
	rt, err := r.New("local", cluster.RuntimeOptions{})
	if err != nil || rt.Name() != "local" || rt.MaxNodes() != MaxNodes {
		t.Fatalf("New(local) = %v, %v", rt, err)
	}
	if _, err := r.New("docker", cluster.RuntimeOptions{}); err == nil || !strings.Contains(err.Error(), `unknown runtime "docker" (available: local)`) {
		t.Errorf("New(docker) = %v", err)
	}
}

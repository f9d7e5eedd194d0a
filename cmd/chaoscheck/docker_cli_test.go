//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// --runtime docker is probed before anything is deployed or stored: an
// image that is not on this machine is one line naming it and what to
// do, exit 255, and an empty store. (With no daemon the line says that
// instead; the exit code and the empty store are the same.)
func TestDockerProbedUpFront(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--target", "redis", "--runtime", "docker", "--image", "chaoscheck/nosuch:1"}, []string{"chaoscheck/nosuch:1", "not on this machine", "images build"}},
		{[]string{"--target", "etcd", "--runtime", "docker", "--image", "chaoscheck/nosuch:1"}, []string{"chaoscheck/nosuch:1", "not on this machine"}},
	} {
		st := filepath.Join(t.TempDir(), "store")
		args := append([]string{"test", "--store", st, "--time-limit", "1s"}, c.args...)
		code, stderr := runCapture(args...)
		if code != exitCrashed {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, exitCrashed, stderr)
		}
		if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
			t.Errorf("%v: stderr has %d lines, want one: %q", c.args, n+1, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q does not name %q", c.args, stderr, w)
			}
		}
		if e := storeEntries(t, st); len(e) > 0 {
			t.Errorf("%v: the store holds %v, want nothing", c.args, e)
		}
	}
}

package main

import (
	"strings"
	"testing"
)

// chaoscheck isolation refuses, with exit 254 and one line, a target that
// has no probes, an unknown target, an unknown level and an unknown
// runtime, before anything is deployed.
func TestIsolationRefusals(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"isolation", "--target", "sim"}, "--target sim has no isolation probes (they run against: postgres)"},
		{[]string{"isolation", "--target", "redis"}, "--target redis has no isolation probes"},
		{[]string{"isolation", "--target", "nosuch"}, `unknown target "nosuch"`},
		{[]string{"isolation", "--level", "snapshot"}, `--level "snapshot"`},
		{[]string{"isolation", "--runtime", "nosuch"}, "--runtime"},
	} {
		code, stderr := runCapture(c.args...)
		if code != exitBadInput || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want %d and one line with %q", c.args, code, stderr, exitBadInput, c.want)
		}
	}
}

//go:build linux

package etcd

import (
	"slices"
	"testing"

	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// TestSharedArgs: the user's flags follow chaoscheck's shared ones as
// --name=value, the raft timing describes them, and the controlled flags
// are refused.
func TestSharedArgs(t *testing.T) {
	f, err := serverconf.Parse("e.flags", "--heartbeat-interval=50\n--election-timeout 500\n--unsafe-no-fsync\n", serverconf.EtcdFlags)
	if err != nil {
		t.Fatal(err)
	}
	c := Config{ServerConfig: f}
	c.defaults()
	got := c.sharedArgs()
	want := []string{"--pre-vote=true", "--logger=zap", "--log-outputs=stderr", "--heartbeat-interval=50", "--election-timeout=500", "--unsafe-no-fsync=true"}
	if !slices.Equal(got, want) {
		t.Errorf("args %q, want %q", got, want)
	}
	if s := c.raftTiming(); s != "heartbeat 50ms, election timeout 500ms (--server-config)" {
		t.Errorf("raft timing %q", s)
	}
	for text, refused := range map[string]bool{
		"--name=x\n":                         true,
		"--listen-client-urls=http://x\n":    true,
		"--initial-cluster-state=existing\n": true,
		"--peer-auto-tls\n":                  true,
		"--pre-vote=false\n":                 true,
		"--snapshot-count=1000\n":            false,
	} {
		f, err := serverconf.Parse("f", text, serverconf.EtcdFlags)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Config{ServerConfig: f})
		if (err != nil) != refused {
			t.Errorf("%q: New = %v, want refused %v", text, err, refused)
		}
	}
}

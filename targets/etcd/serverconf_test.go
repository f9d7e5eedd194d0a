//go:build linux

package etcd

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// fakeHosts gives node addresses and a name, all that args asks of the
// runtime.
type fakeHosts struct{ cluster.Hosts }

func (fakeHosts) Addr(node string) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 9, 0, byte(10 + node[len(node)-1] - '0')})
}
func (fakeHosts) Name() string { return "cc1234" }

// TestFlagDefaultsMatchArgs: the defaults test.json lists are exactly the
// flags of a generated command line that are not member-specific.
func TestFlagDefaultsMatchArgs(t *testing.T) {
	c := Config{PreVote: Bool(false)}
	c.defaults()
	d := &Deployment{cfg: c, lc: fakeHosts{}, nodes: []string{"n1", "n2", "n3"}, stateDir: "/state"}
	var shared []serverconf.Default
	for _, f := range parseArgs(d.args("n2")) {
		switch f.Name {
		case "name", "data-dir", "listen-peer-urls", "initial-advertise-peer-urls", "listen-client-urls", "advertise-client-urls", "initial-cluster", "initial-cluster-token":
			continue // member-specific
		}
		shared = append(shared, f)
	}
	if !slices.Equal(shared, c.flagDefaults()) {
		t.Errorf("generated shared flags %v, flagDefaults %v", shared, c.flagDefaults())
	}
}

// TestMergeArgs: the user's flags follow chaoscheck's as --name=value,
// the member-specific ones stay, the raft timing describes the user's,
// and the controlled flags are refused.
func TestMergeArgs(t *testing.T) {
	f, err := serverconf.Parse("e.flags", "--heartbeat-interval=50\n--election-timeout 500\n--unsafe-no-fsync\n", serverconf.EtcdFlags)
	if err != nil {
		t.Fatal(err)
	}
	c := Config{ServerConfig: f}
	c.defaults()
	d := &Deployment{cfg: c, lc: fakeHosts{}, nodes: []string{"n1", "n2"}, stateDir: "/state"}
	got := c.mergeArgs(d.args("n1"))
	for _, want := range []string{"--name=n1", "--data-dir=/state/data/n1", "--listen-client-urls=http://10.9.0.11:2379", "--pre-vote=true", "--logger=zap", "--heartbeat-interval=50", "--election-timeout=500", "--unsafe-no-fsync=true"} {
		if !slices.Contains(got, want) {
			t.Errorf("args %q lack %q", got, want)
		}
	}
	if args := d.args("n1"); !slices.Equal((Config{}).mergeArgs(args), args) {
		t.Error("without a file the args changed")
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

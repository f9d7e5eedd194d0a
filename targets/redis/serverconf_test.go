//go:build linux

package redis

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// fakeHosts gives node addresses, all that server.conf asks of the
// runtime.
type fakeHosts struct{ cluster.Hosts }

func (fakeHosts) Addr(node string) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 9, 0, byte(10 + node[len(node)-1] - '0')})
}

// TestConfDefaultsMatchConf: the defaults test.json lists are exactly the
// directives of a generated redis.conf that are not node-specific, in
// both modes and with or without the append-only file.
func TestConfDefaultsMatchConf(t *testing.T) {
	for _, c := range []Config{{}, {Mode: Replication, AppendOnly: true}} {
		c.defaults()
		s := &server{cfg: c, lc: fakeHosts{}, root: "/state"}
		gen, err := serverconf.Parse("gen", s.conf("n2", "n1"), serverconf.RedisConf)
		if err != nil {
			t.Fatal(err)
		}
		var shared []string
		for _, d := range gen.Settings {
			switch d.Name {
			case "port", "bind", "dir", "cluster-config-file", "replicaof":
				continue // node-specific
			}
			shared = append(shared, d.Name+" "+d.Value)
		}
		var want []string
		for _, d := range c.confDefaults() {
			want = append(want, d.Name+" "+d.Value)
		}
		if strings.Join(shared, "\n") != strings.Join(want, "\n") {
			t.Errorf("mode %v: generated shared directives\n%s\nconfDefaults\n%s", c.Mode, strings.Join(shared, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestMergeConf: the user's directives replace chaoscheck's of the same
// name in place (every line of a repeated one, such as save), the others
// follow, the node-specific ones stay, and the controlled ones are
// refused.
func TestMergeConf(t *testing.T) {
	f, err := serverconf.Parse("r.conf", "save 900 1\nsave 60 100\nhz 17\ncluster-node-timeout 3000\n", serverconf.RedisConf)
	if err != nil {
		t.Fatal(err)
	}
	c := Config{ServerConfig: f}
	c.defaults()
	s := &server{cfg: c, lc: fakeHosts{}, root: "/state"}
	text := c.mergeConf(s.conf("n1", ""))
	for _, want := range []string{"# chaoscheck: node n1\n", "port 6379\n", "bind 10.9.0.11\n", "dir /state/n1/data\n", "save 900 1\nsave 60 100\n", "hz 17\n", "cluster-node-timeout 3000\n", "cluster-enabled yes\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("merged conf lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `save ""`) || strings.Contains(text, "cluster-node-timeout 5000") {
		t.Errorf("chaoscheck's value kept beside the user's:\n%s", text)
	}
	if gen := s.conf("n1", ""); (Config{}).mergeConf(gen) != gen {
		t.Error("without a file the conf changed")
	}
	if c.effective("save") != "60 100" || c.effective("cluster-node-timeout") != "3000" {
		t.Errorf("effective save %q, node timeout %q", c.effective("save"), c.effective("cluster-node-timeout"))
	}
	for text, refused := range map[string]bool{
		"port 7000\n":                   true,
		"bind 0.0.0.0\n":                true,
		"slaveof 10.0.0.1 6379\n":       true,
		"cluster-enabled no\n":          true,
		"cluster-announce-ip 1.1.1.1\n": true,
		"requirepass secret\n":          true,
		"rename-command CONFIG \"\"\n":  true,
		"appendonly yes\n":              true,
		"protected-mode yes\n":          true,
		"protected-mode no\n":           false,
		"maxmemory 100mb\n":             false,
	} {
		f, err := serverconf.Parse("f.conf", text, serverconf.RedisConf)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Config{ServerConfig: f})
		if (err != nil) != refused {
			t.Errorf("%q: New = %v, want refused %v", text, err, refused)
		}
	}
}

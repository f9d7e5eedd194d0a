//go:build linux

package redis

import (
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// TestSharedConf: the user's directives replace chaoscheck's of the same
// name (every line of a repeated one, such as save), the others follow,
// and the controlled ones are refused.
func TestSharedConf(t *testing.T) {
	f, err := serverconf.Parse("r.conf", "save 900 1\nsave 60 100\nhz 17\ncluster-node-timeout 3000\n", serverconf.RedisConf)
	if err != nil {
		t.Fatal(err)
	}
	c := Config{ServerConfig: f}
	c.defaults()
	text := c.sharedConf()
	if strings.Contains(text, `save ""`) || !strings.Contains(text, "save 900 1\nsave 60 100\n") || !strings.Contains(text, "hz 17\n") ||
		!strings.Contains(text, "cluster-node-timeout 3000\n") || strings.Contains(text, "cluster-node-timeout 5000") {
		t.Errorf("merged conf:\n%s", text)
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

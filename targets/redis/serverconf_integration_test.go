//go:build linux

package redis

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// TestServerConfigReachesServers: the user's redis.conf lines are in
// force on every node (CONFIG GET), including one that replaces
// chaoscheck's default (cluster-node-timeout, save), while chaoscheck's
// wiring stays (cluster mode on).
func TestServerConfigReachesServers(t *testing.T) {
	requireEnv(t)
	p := filepath.Join(t.TempDir(), "team-redis.conf")
	if err := os.WriteFile(p, []byte("# the team's redis.conf\nhz 17\nmaxmemory-policy allkeys-lru\ncluster-node-timeout 3000\nsave 900 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := serverconf.Load(p, serverconf.RedisConf)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := New(newConfig(t, Config{ServerConfig: f}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dep.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	d := dep.(*Deployment)
	want := map[string]string{"hz": "17", "maxmemory-policy": "allkeys-lru", "cluster-node-timeout": "3000", "save": "900 1", "appendonly": "no"}
	for _, n := range d.srv.lc.Nodes() {
		got := map[string]string{}
		err := d.srv.admin(ctx, n, func(ctx context.Context, c *goredis.Client) error {
			for k := range want {
				m, err := c.ConfigGet(ctx, k).Result()
				if err != nil {
					return err
				}
				got[k] = m[k]
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: CONFIG GET %s = %q, want %q", n, k, got[k], v)
			}
		}
		info, err := d.srv.info(ctx, n, "cluster")
		if err != nil {
			t.Fatal(err)
		}
		if info["cluster_enabled"] != "1" {
			t.Errorf("%s: cluster_enabled %q", n, info["cluster_enabled"])
		}
	}
	for _, s := range dep.Describe() {
		if s.Name == "cluster-node-timeout" && s.Value != "3000ms" {
			t.Errorf("described cluster-node-timeout %q", s.Value)
		}
	}
}

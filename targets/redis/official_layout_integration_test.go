//go:build linux

package redis

import (
	"context"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/internal/testenv/dockerenv"
	"github.com/chaoscheck/chaoscheck/internal/testenv/layoutimage"
)

// TestDockerOfficialLayout deploys Redis on an image laid out as the
// official redis:7 is (redis-server in /usr/local/bin, the redis user
// with uid 999, its own entrypoint and PATH; built from this machine's
// package under a test-only tag, as no registry is reachable), as the
// target's default image: the target takes the server's path and uid
// from the image, every node runs /usr/local/bin/redis-server as uid
// 999, and a replica killed and restarted replicates again with the
// data.
func TestDockerOfficialLayout(t *testing.T) {
	rt, tag := dockerenv.OfficialLayout(t, "redis", layoutimage.Redis(), Registration().NodeNeeds)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ch, err := rt.ChooseImage(ctx)
	if err != nil || ch.Ref != tag || ch.Reason != cluster.ImageDefault {
		t.Fatalf("image choice %+v %v, want %s as the default", ch, err, tag)
	}
	tg, err := New(newConfig(t, Config{Mode: Replication, Nodes: 3, Runtime: rt}))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := dep.(*Deployment)
	t.Logf("deployed in %v (%v)", time.Since(start).Round(time.Millisecond), d.Phases())
	defer func() {
		if err := dep.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	if d.srv.bin != "/usr/local/bin/redis-server" || d.srv.uid != 999 || d.srv.gid != 999 {
		t.Errorf("server %s as %d:%d, want /usr/local/bin/redis-server as 999:999 (the image's)", d.srv.bin, d.srv.uid, d.srv.gid)
	}
	dockerenv.CheckProcesses(t, d.srv.lc, "/usr/local/bin/redis-server", 999)

	cw, err := d.NewClient(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := cw.(*Client)
	defer c.Close()
	op := func(f func(ctx context.Context) error) error {
		octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
		defer ocancel()
		return f(octx)
	}
	if err := op(func(ctx context.Context) error { return c.Write(ctx, "register:0", 5) }); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := d.Replicated().Kill(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	if err := d.Replicated().Restart(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	if err := d.srv.waitReplicating(ctx, "n3", "n1", LinkTimeout); err != nil {
		t.Fatal(err)
	}
	dockerenv.CheckProcesses(t, d.srv.lc, "/usr/local/bin/redis-server", 999)
	var v int64
	var found bool
	if err := op(func(ctx context.Context) (err error) { v, found, err = c.Read(ctx, "register:0"); return }); err != nil || !found || v != 5 {
		t.Errorf("read after the restart: %d %v %v, want 5", v, found, err)
	}
}

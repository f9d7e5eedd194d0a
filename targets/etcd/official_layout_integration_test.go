//go:build linux

package etcd

import (
	"context"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/internal/testenv/dockerenv"
	"github.com/chaoscheck/chaoscheck/internal/testenv/layoutimage"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// TestDockerOfficialLayout deploys etcd on an image laid out as etcd's
// own image is (distroless: etcd in /usr/local/bin, no shell, nobody
// 65534; built from this machine's package under a test-only tag, as no
// registry is reachable), as the target's default image: every member
// runs /usr/local/bin/etcd as nobody, and a member killed and restarted
// rejoins with the data (a linearizable read after it sees the write
// made before).
func TestDockerOfficialLayout(t *testing.T) {
	rt, tag := dockerenv.OfficialLayout(t, "etcd", layoutimage.Etcd(), Registration().NodeNeeds)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if ch, err := rt.ChooseImage(ctx); err != nil || ch.Ref != tag || ch.Reason != cluster.ImageDefault {
		t.Fatalf("image choice %+v %v, want %s as the default", ch, err, tag)
	}
	tg, err := New(newConfig(t, Config{Nodes: 3, Runtime: rt, Sticky: true}))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := dep.(*Deployment)
	t.Logf("deployed in %v", time.Since(start).Round(time.Millisecond))
	defer func() {
		if err := dep.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	if d.cfg.Binary != "/usr/local/bin/etcd" || d.uid != 65534 {
		t.Errorf("etcd %s as uid %d, want /usr/local/bin/etcd as 65534 (the image's)", d.cfg.Binary, d.uid)
	}
	dockerenv.CheckProcesses(t, d.lc, "/usr/local/bin/etcd", 65534)
	// Process 0 is bound to n1 (sticky): write there, kill and restart
	// n1, read there.
	cw, err := d.NewClient(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := cw.(workloads.RegisterClient)
	defer c.Close()
	octx, ocancel := context.WithTimeout(ctx, 5*time.Second)
	err = c.Write(octx, "register:0", 3)
	ocancel()
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := d.cl.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := d.cl.Restart(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	dockerenv.CheckProcesses(t, d.lc, "/usr/local/bin/etcd", 65534)
	var v int64
	var found bool
	deadline := time.Now().Add(30 * time.Second)
	for {
		octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
		v, found, err = c.Read(octx, "register:0")
		ocancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || !found || v != 3 {
		t.Errorf("read on the restarted n1: %d %v %v, want 3", v, found, err)
	}
}

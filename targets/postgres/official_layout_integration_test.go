//go:build linux

package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/internal/testenv/dockerenv"
	"github.com/chaoscheck/chaoscheck/internal/testenv/layoutimage"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// TestDockerOfficialLayout deploys PostgreSQL on an image laid out as
// the official postgres:15 is (Debian's server in
// /usr/lib/postgresql/15/bin, which its PATH names; the postgres user
// with uid 999, where this machine's is another; its own entrypoint;
// built from this machine's packages under a test-only tag, as no
// registry is reachable), as the target's default image: initdb,
// pg_basebackup and the servers run from the image's paths as its uid
// 999, and a failover (primary killed, a replica promoted, the old
// primary re-cloned from the new one by pg_basebackup in a helper
// container of the image) keeps an acknowledged write.
func TestDockerOfficialLayout(t *testing.T) {
	rt, tag := dockerenv.OfficialLayout(t, "postgres", layoutimage.Postgres(), Registration().NodeNeeds)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if ch, err := rt.ChooseImage(ctx); err != nil || ch.Ref != tag || ch.Reason != cluster.ImageDefault {
		t.Fatalf("image choice %+v %v, want %s as the default", ch, err, tag)
	}
	tg, err := New(newConfig(t, Config{Nodes: 3, Replication: Sync, Runtime: rt}))
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
	const server = "/usr/lib/postgresql/15/bin/postgres"
	if d.srv.paths["postgres"] != server || d.srv.paths["sh"] != "/usr/bin/sh" || d.srv.uid != 999 || d.srv.gid != 999 {
		t.Errorf("server %v as %d:%d, want %s as 999:999 (the image's)", d.srv.paths, d.srv.uid, d.srv.gid, server)
	}
	dockerenv.CheckProcesses(t, d.srv.lc, server, 999)

	cw, err := d.NewClient(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := cw.(workloads.RegisterClient)
	defer c.Close()
	octx, ocancel := context.WithTimeout(ctx, 5*time.Second)
	err = c.Write(octx, "register:0", 7)
	ocancel()
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	pg := d.PG()
	old := pg.Primary()
	if err := pg.Kill(ctx, old); err != nil {
		t.Fatal(err)
	}
	np, err := pg.Promote(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Rejoin(ctx, old); err != nil {
		t.Fatalf("rejoin %s: %v", old, err)
	}
	dockerenv.CheckProcesses(t, d.srv.lc, server, 999)
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
	if err != nil || !found || v != 7 {
		t.Errorf("read on the new primary %s: %d %v %v, want the acknowledged 7", np, v, found, err)
	}
}

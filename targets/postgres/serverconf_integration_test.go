//go:build linux

package postgres

import (
	"context"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// userConf writes text to a file and parses it as --server-config would.
func userConf(t *testing.T, text string) *serverconf.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "team.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := serverconf.Load(p, serverconf.PostgresConf)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSyncReplicationSynchronousCommitOffLosesWrites is the lesson "your
// config silently turns off what you think you have": the scenario of
// TestSyncFailoverKeepsAcknowledgedWrites (synchronous replication, the
// primary isolated from its standbys, killed, a standby promoted), with
// the team's file saying synchronous_commit = off. Commits no longer wait
// for a standby, so writes acknowledged during the isolation are lost on
// failover, and the set checker says so. test.json keeps the file
// verbatim with the effective setting, and the target's description says
// that replication is in effect asynchronous.
func TestSyncReplicationSynchronousCommitOffLosesWrites(t *testing.T) {
	requireEnv(t)
	text := "# the team's postgresql.conf fragment\nsynchronous_commit = off\nwork_mem = '8MB'\n"
	out := run(t, scenario{
		cfg:       Config{Replication: Sync, ServerConfig: userConf(t, text)},
		workloads: []string{"set"}, faults: []nemesis.Fault{&nemesis.Failover{Isolate: 2 * time.Second}},
		interval: 4 * time.Second, concurrency: 5, rate: 500, timeLimit: 10 * time.Second, seed: 1,
	})
	events, applied := nemesisLog(loadHistory(t, out))
	for _, e := range events {
		t.Logf("  nemesis %s", e)
	}
	if !applied {
		t.Fatal("no failover was applied")
	}
	c := check(t, out, "set", "set")
	if c.Verdict != checkers.Invalid || c.AnomalyCounts["lost"] == 0 {
		t.Errorf("sync replication with synchronous_commit = off: %s %v %s: want acknowledged adds lost", c.Verdict, c.AnomalyCounts, c.Reason)
	}
	var ti rundir.TestInfo
	if err := rundir.ReadJSON(filepath.Join(out.Dir, rundir.TestFile), &ti); err != nil {
		t.Fatal(err)
	}
	if ti.ServerConfig == nil || ti.ServerConfig.Text != text || ti.ServerConfig.Format != "postgresql.conf" {
		t.Fatalf("test.json server config %+v", ti.ServerConfig)
	}
	found := false
	for _, e := range ti.ServerConfig.Effective {
		if e.Name == "synchronous_commit" {
			found = e.Value == "off" && e.Source == rundir.FromUser && e.Line == 2 && e.Default == "on"
		}
	}
	if !found {
		t.Errorf("effective settings lack the user's synchronous_commit = off (line 2): %+v", ti.ServerConfig.Effective)
	}
	for _, s := range ti.TargetSettings {
		if s.Name == "replication" && !strings.Contains(s.Value, "in effect asynchronous") {
			t.Errorf("replication described as %q", s.Value)
		}
	}
	// The typed facts say what is in force, and the report's lost-write
	// card quotes them.
	if ti.Facts == nil || ti.Facts.Replication != rundir.Asynchronous || !ti.Facts.DurabilityLosesAcked || ti.Facts.Nodes != 3 {
		t.Errorf("test.json facts %+v: want asynchronous in effect, acknowledged commits losable", ti.Facts)
	}
	page, err := os.ReadFile(filepath.Join(out.Dir, rundir.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Replication: --replication sync, but synchronous_commit=off (--server-config", "line 2)", `id="server-config"`} {
		if !strings.Contains(html.UnescapeString(string(page)), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestServerConfigReachesServers: the user's settings are in force on
// the primary and on the standbys (which inherit them through
// pg_basebackup), and chaoscheck's own settings that the file does not
// name stay.
func TestServerConfigReachesServers(t *testing.T) {
	requireEnv(t)
	tg, err := New(newConfig(t, Config{ServerConfig: userConf(t, "work_mem = '12MB'\nsynchronous_commit = local\n")}))
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
	for _, n := range d.cl.Nodes() {
		var workMem, syncCommit, walLevel string
		err := d.srv.admin(ctx, n, func(ctx context.Context, c *pgx.Conn) error {
			if err := c.QueryRow(ctx, "SHOW work_mem").Scan(&workMem); err != nil {
				return err
			}
			if err := c.QueryRow(ctx, "SHOW synchronous_commit").Scan(&syncCommit); err != nil {
				return err
			}
			return c.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel)
		})
		if err != nil {
			t.Fatal(err)
		}
		if workMem != "12MB" || syncCommit != "local" || walLevel != "replica" {
			t.Errorf("%s: work_mem %s, synchronous_commit %s, wal_level %s; want 12MB, local, replica", n, workMem, syncCommit, walLevel)
		}
	}
}

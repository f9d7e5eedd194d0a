//go:build linux

package cassandra

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/internal/testenv"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// TestServerConfigReachesNode: Cassandra starts from the merged
// cassandra.yaml (the user's keys in place of chaoscheck's, re-encoded),
// and the user's values are in force (system_views.settings), one of
// them replacing chaoscheck's default; the typed facts follow the file
// (hinted handoff off). A one-node cluster of its own, without the clock
// preload, to keep it small.
func TestServerConfigReachesNode(t *testing.T) {
	env.Require(t)
	releaseShared(t)
	p := filepath.Join(t.TempDir(), "team-cassandra.yaml")
	text := "# the team's cassandra.yaml overrides\nconcurrent_reads: 16\nhinted_handoff_enabled: false\ncolumn_index_size: 8KiB\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := serverconf.Load(p, serverconf.CassandraYAML)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := New(Config{Nodes: 1, ReplicationFactor: 1, NoClockSkew: true, ServerConfig: f,
		StateDir: testenv.StateDir(t, "cassandra-serverconf"), Runtime: local.Runtime{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStartTimeout+MavenTimeout)
	defer cancel()
	start := time.Now()
	d, err := tg.DeployCassandra(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("deploy %v", time.Since(start).Round(time.Millisecond))
	defer func() {
		if err := d.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	s, err := d.adminSession(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, want := range map[string]string{"concurrent_reads": "16", "hinted_handoff_enabled": "false", "column_index_size": "8KiB", "concurrent_writes": "8"} {
		var got string
		if err := s.Query("SELECT value FROM system_views.settings WHERE name = ?", name).WithContext(ctx).Consistency(gocql.One).Scan(&got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Errorf("setting %s = %q, want %q", name, got, want)
		}
	}
	if hh := d.Facts().HintedHandoff; hh == nil || *hh {
		t.Errorf("facts: hinted handoff %v, want off (the file says so)", hh)
	}
}

//go:build linux

package cassandra

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/testenv/dockerenv"
	"github.com/chaoscheck/chaoscheck/nemesis"
)

// TestDockerQuorumSurvivesOneKilled is TestQuorumSurvivesOneKilled on
// the docker runtime, on a cluster of its own (3 containers of
// chaoscheck/cassandra:host, 512 MiB heaps): the configuration is placed
// through the runtime (NodeSpec.Files), the jars and the clock shim come
// from the controller's cache through read-only bind mounts
// (NodeSpec.SharedDirs), and a kill is SIGKILL of a container through
// the API. QUORUM reads and writes must stay valid (session and
// linearizable checks of ryw) with operations succeeding during the
// kill. Then the clock shim (from the shared cache) is loaded in every
// JVM and a +3s skew shows in a node's now(). Finally, sessions open
// while a node is killed (assertOpensWhileKilled).
func TestDockerQuorumSurvivesOneKilled(t *testing.T) {
	env.Require(t)
	rt := dockerenv.Docker(t, "cassandra", Registration().NodeNeeds)
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStartTimeout+MavenTimeout)
	defer cancel()
	tg, err := New(Config{Nodes: 3, Heap: "512m", Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d, err := tg.DeployCassandra(ctx)
	if err != nil {
		t.Fatalf("deploy on docker after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), cluster.CloseTimeout)
		defer ccancel()
		if err := d.Close(cctx); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	t.Logf("deployed on docker in %v (%+v), version %s", time.Since(start).Round(time.Millisecond), d.Timings(), d.Version())
	if d.Hosts().Name() == "" || d.Version() == "" {
		t.Fatalf("deployment without a name or a version: %q %q", d.Hosts().Name(), d.Version())
	}
	// The nodes read their configuration from the state directory (the
	// runtime placed it there through the container), and the JVM's
	// classpath is the cache's lib, read-only in the container.
	for _, n := range d.Hosts().Nodes() {
		f := filesOf(d.cfg.StateDir, n)
		if _, err := os.Stat(f.yaml); err != nil {
			t.Errorf("%s: cassandra.yaml not placed: %v", n, err)
		}
	}
	if filepath.Dir(d.lib) == "" || d.cache == "" {
		t.Fatalf("no cache: lib %q cache %q", d.lib, d.cache)
	}

	out := runScenario(t, d, scenario{
		name: "docker-quorum-kill-one", opts: ClientOptions{ReadCL: "QUORUM", WriteCL: "QUORUM", ClientTimestamps: true},
		workloads: []string{"ryw"}, faults: []nemesis.Fault{&nemesis.Kill{Targets: nemesis.One}},
		interval: 10 * time.Second, concurrency: 6, rate: 150, timeLimit: 25 * time.Second, seed: 5,
	})
	for _, name := range []string{"session", "linearizable"} {
		if c := check(t, out, "ryw", name); c.Verdict != checkers.Valid {
			t.Errorf("docker, QUORUM, one node killed: ryw/%s verdict %s %v %s, want valid", name, c.Verdict, c.AnomalyCounts, c.Reason)
		}
	}
	h := loadHistory(t, out)
	during := faultWindowOutcomes(h, func(*history.Op) bool { return true })
	t.Logf("docker, QUORUM, one killed: outcomes during the kill %v", during)
	if during[history.OK] == 0 {
		t.Errorf("docker, QUORUM, one node killed: no operation succeeded during the kill: %v", during)
	}
	killed := false
	for _, op := range h.Ops {
		if !op.IsClient() && op.Type != history.Invoke && strings.HasPrefix(op.F, "start-") && op.Error == "" {
			killed = true
		}
	}
	if !killed {
		t.Error("no kill in the history: the nemesis never acted")
	}

	// The clock shim, read from the shared cache, is loaded in every
	// container's JVM (the host pid's maps), and moves its clock.
	if d.clock != clockShim || d.cl.clockErr != nil {
		t.Fatalf("docker nodes without the clock shim: mode %d, %v, %v", d.clock, d.shimErr, d.cl.clockErr)
	}
	assertClockSkewReachesJVM(t, d)
	assertOpensWhileKilled(t, d)
}

// assertOpensWhileKilled kills the last node and opens sessions (as the
// runner does after an info outcome) each within the driver's
// ConnectTimeout, which is the runner's default --op-timeout: they must
// not wait for the killed node. On docker a killed container's address
// does not answer (no reset, as a killed local process's namespace
// sends), and gocql used to wait for every node's pool, so no session
// could open in that budget while a node was down. At least 4 of 5 must
// open (a loaded machine may slow one); then the node is restarted.
func assertOpensWhileKilled(t *testing.T, d *Deployment) {
	t.Helper()
	ctx := context.Background()
	nodes := d.Hosts().Nodes()
	killed := nodes[len(nodes)-1]
	if err := d.CassandraCluster().Kill(ctx, killed); err != nil {
		t.Fatalf("kill %s: %v", killed, err)
	}
	opened := 0
	var errs []string
	for i := 0; i < 5; i++ {
		octx, cancel := context.WithTimeout(ctx, d.cfg.ConnectTimeout)
		start := time.Now()
		c, err := d.NewClientWith(octx, 100+i, ClientOptions{ReadCL: "QUORUM", WriteCL: "QUORUM"})
		cancel()
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		opened++
		t.Logf("session %d opened in %v with %s killed", i, time.Since(start).Round(time.Millisecond), killed)
		c.Close()
	}
	if opened < 4 {
		t.Errorf("%d of 5 sessions opened within %v while %s was killed, want at least 4: %s", opened, d.cfg.ConnectTimeout, killed, strings.Join(errs, "; "))
	}
	rctx, cancel := context.WithTimeout(ctx, DefaultStartTimeout)
	defer cancel()
	if err := d.CassandraCluster().Restart(rctx, killed); err != nil {
		t.Fatalf("restart %s: %v", killed, err)
	}
	if err := d.waitPort(rctx, killed, time.Now().Add(DefaultStartTimeout)); err != nil {
		t.Fatalf("restarted %s: %v", killed, err)
	}
}

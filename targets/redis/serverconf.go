//go:build linux

package redis

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// ServerConfigRules are the redis.conf directives that chaoscheck
// controls, refused in --server-config: each node's address, port and
// files, the replication and cluster wiring, what the clients need to
// connect (no password, the commands they send), and what chaoscheck's
// own flags set.
var ServerConfigRules = []serverconf.Rule{
	{Name: "port", Why: "the port clients and replicas connect to"},
	{Name: "bind", Why: "each node's address"},
	{Name: "bind-source-addr", Why: "each node's address"},
	{Name: "tls-port", Why: "clients connect over plain TCP to the port chaoscheck sets"},
	{Name: "unixsocket", Why: "each node's files"},
	{Name: "unixsocketperm", Why: "each node's files"},
	{Name: "dir", Why: "each node's data directory"},
	{Name: "logfile", Why: "the server log, which chaoscheck collects from stdout"},
	{Name: "pidfile", Why: "each node's files"},
	{Name: "daemonize", Why: "the server runs in the foreground under the runtime", Allowed: "no", Allow: isNo},
	{Name: "supervised", Why: "the server runs in the foreground under the runtime"},
	{Name: "protected-mode", Why: "clients connect without a password from another address", Allowed: "no", Allow: isNo},
	{Name: "requirepass", Why: "clients connect without a password"},
	{Name: "masterauth", Why: "replicas connect without a password"},
	{Name: "masteruser", Why: "replicas connect without a password"},
	{Name: "user", Why: "clients connect as the default user, without a password"},
	{Name: "aclfile", Why: "clients connect as the default user, without a password"},
	{Name: "rename-command", Why: "the clients and the failover send the standard commands"},
	{Name: "replicaof", Why: "replication wiring: each replica's primary, rewritten on failover"},
	{Name: "slaveof", Why: "replication wiring: each replica's primary, rewritten on failover"},
	{Name: "replica-announce-ip", Why: "replication wiring"},
	{Name: "replica-announce-port", Why: "replication wiring"},
	{Name: "slave-announce-ip", Why: "replication wiring"},
	{Name: "slave-announce-port", Why: "replication wiring"},
	{Name: "cluster-enabled", Why: "the topology, set by --redis-mode"},
	{Name: "cluster-config-file", Why: "each node's cluster state file"},
	{Name: "cluster-port", Why: "the cluster bus port"},
	{Name: "cluster-announce-", Prefix: true, Why: "cluster wiring: each node's address"},
	{Name: "appendonly", Why: "durability, set by --append-only (recorded as a fact of the test)"},
	{Name: "appendfsync", Why: "durability, set by --append-only (recorded as a fact of the test)"},
}

func isNo(v string) bool { return strings.EqualFold(strings.Trim(v, `"'`), "no") }

// confDefaults are chaoscheck's redis.conf directives that are the same on
// every node, in order: those of server.conf less the node-specific ones
// (TestConfDefaultsMatchConf holds the two to each other). They are
// what test.json lists as chaoscheck's effective settings.
func (c Config) confDefaults() []serverconf.Default {
	d := []serverconf.Default{
		{Name: "protected-mode", Value: "no"},
		{Name: "daemonize", Value: "no"},
		{Name: "logfile", Value: `""`},
		{Name: "save", Value: `""`},
	}
	if c.AppendOnly {
		d = append(d, serverconf.Default{Name: "appendonly", Value: "yes"}, serverconf.Default{Name: "appendfsync", Value: "always"})
	} else {
		d = append(d, serverconf.Default{Name: "appendonly", Value: "no"})
	}
	d = append(d,
		serverconf.Default{Name: "repl-diskless-sync", Value: "yes"},
		serverconf.Default{Name: "repl-diskless-sync-delay", Value: "0"},
		serverconf.Default{Name: "replica-read-only", Value: "yes"},
	)
	if c.Mode == Cluster {
		d = append(d,
			serverconf.Default{Name: "cluster-enabled", Value: "yes"},
			serverconf.Default{Name: "cluster-node-timeout", Value: strconv.FormatInt(c.NodeTimeout.Milliseconds(), 10)},
		)
	}
	return d
}

// mergeConf returns a node's generated redis.conf with the user's
// directives (Config.ServerConfig) in place of chaoscheck's of the same
// name (every line of a repeated one, such as save), the user's others
// appended. The user's file cannot name a node-specific directive (the
// rules refuse them), so those pass through unchanged. Without a file it
// returns generated as it is.
func (c Config) mergeConf(generated string) string {
	if c.ServerConfig == nil {
		return generated
	}
	base, err := serverconf.Parse("generated redis.conf", generated, serverconf.RedisConf)
	if err != nil {
		// server.conf is this package's: TestMergeConf parses it.
		panic(err)
	}
	var b strings.Builder
	if i := strings.IndexByte(generated, '\n'); strings.HasPrefix(generated, "#") && i > 0 {
		b.WriteString(generated[:i+1])
	}
	fmt.Fprintf(&b, "# chaoscheck's settings merged with --server-config %s (its settings win)\n", c.ServerConfig.Path)
	defaults := make([]serverconf.Default, len(base.Settings))
	for i, s := range base.Settings {
		defaults[i] = serverconf.Default{Name: s.Name, Value: s.Value}
	}
	for _, s := range serverconf.Merge(defaults, c.ServerConfig) {
		fmt.Fprintf(&b, "%s %s\n", s.Name, s.Value)
	}
	return b.String()
}

// effective returns the value in force of a directive that chaoscheck
// sets (the user's last when the file sets it).
func (c Config) effective(name string) string {
	if s, ok := c.ServerConfig.Last(name); ok {
		return s.Value
	}
	for _, d := range c.confDefaults() {
		if d.Name == name {
			return d.Value
		}
	}
	return ""
}

// ServerConfig returns the user's configuration as test.json keeps it
// (targets.ServerConfigured); nil without one.
func (t *Target) ServerConfig() *rundir.ServerConfig {
	if t.cfg.ServerConfig == nil {
		return nil
	}
	return t.cfg.ServerConfig.Record(serverconf.Effective(t.cfg.confDefaults(), t.cfg.ServerConfig))
}

var _ targets.FactReporter = (*Deployment)(nil)

// Facts returns the deployment's typed facts (targets.FactReporter):
// asynchronous replication (WAIT does not change that), each key served
// by one master, durability as in force with the user's configuration.
func (d *Deployment) Facts() targets.Facts {
	nodes := d.srv.lc.Nodes()
	f := targets.Facts{
		Nodes:     len(nodes),
		ReadLevel: "master", WriteLevel: "master",
		Replication:          rundir.Asynchronous,
		ReplicationDetail:    "asynchronous: a write is acknowledged by its master alone",
		Conflict:             "none: one master orders the writes of each key",
		Durability:           "none: appendonly no, save \"\" (a killed node restarts empty)",
		DurabilityLosesAcked: true,
	}
	if d.cfg.Wait > 0 {
		f.ReplicationDetail = fmt.Sprintf("asynchronous: a write is acknowledged by its master, then WAIT %d %d waits for replicas (a shortfall is recorded info; WAIT does not make replication synchronous)", d.cfg.Wait, d.cfg.WaitTimeout.Milliseconds())
	}
	switch d.cfg.Mode {
	case Cluster:
		f.ReplicationFactor = 1 + d.cfg.ReplicasPerMaster
		f.Coordinator, f.CoordinatorDetail = rundir.SlotOwner, "each command to the master of its key's slot"
	case Replication:
		f.ReplicationFactor = len(nodes)
		f.Coordinator, f.CoordinatorDetail = rundir.PrimaryCoordinator, "reads and writes to the current primary"
		f.Primary = d.repl.Primary()
	}
	if save := d.cfg.effective("save"); save != `""` {
		f.Durability = "RDB snapshots only (save " + save + "): a killed node restarts from its last snapshot, losing the writes since"
	}
	if d.cfg.AppendOnly {
		f.Durability, f.DurabilityLosesAcked = "appendonly yes, appendfsync always: an acknowledged write is on disk", false
	}
	return f
}

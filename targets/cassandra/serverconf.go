//go:build linux

package cassandra

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// ServerConfigRules are the cassandra.yaml keys that chaoscheck controls,
// refused in --server-config: the ring (cluster name, tokens, seeds,
// snitch, partitioner), each node's addresses, ports and directories,
// what the clients need to connect (no credentials, no TLS), and what
// chaoscheck's own flags set.
var ServerConfigRules = []serverconf.Rule{
	{Name: "cluster_name", Why: "the ring chaoscheck creates"},
	{Name: "num_tokens", Why: "the ring: one evenly spread token per node"},
	{Name: "initial_token", Why: "the ring: one evenly spread token per node"},
	{Name: "allocate_tokens", Prefix: true, Why: "the ring: one evenly spread token per node"},
	{Name: "auto_bootstrap", Why: "the ring chaoscheck creates"},
	{Name: "partitioner", Why: "the ring chaoscheck creates"},
	{Name: "endpoint_snitch", Why: "the ring and the datacenters chaoscheck creates (--regions)"},
	{Name: "seed_provider", Why: "cluster wiring: the seeds are the nodes"},
	{Name: "listen_", Prefix: true, Why: "each node's address"},
	{Name: "rpc_", Prefix: true, Why: "each node's address"},
	{Name: "broadcast_", Prefix: true, Why: "each node's address"},
	{Name: "storage_port", Why: "the ports"},
	{Name: "ssl_storage_port", Why: "the ports"},
	{Name: "native_transport_port", Prefix: true, Why: "the port clients connect to"},
	{Name: "start_native_transport", Why: "the port clients connect to"},
	{Name: "data_file_directories", Why: "each node's data directories"},
	{Name: "local_system_data_file_directory", Why: "each node's data directories"},
	{Name: "commitlog_directory", Why: "each node's data directories"},
	{Name: "hints_directory", Why: "each node's data directories"},
	{Name: "saved_caches_directory", Why: "each node's data directories"},
	{Name: "cdc_raw_directory", Why: "each node's data directories"},
	{Name: "authenticator", Why: "clients connect without credentials"},
	{Name: "authorizer", Why: "clients connect without credentials"},
	{Name: "role_manager", Why: "clients connect without credentials"},
	{Name: "client_encryption_options", Why: "clients connect without TLS"},
	{Name: "server_encryption_options", Why: "nodes talk without TLS"},
	{Name: "commitlog_sync", Why: "durability, set by --commitlog-sync (recorded as a fact of the test)"},
}

// controlledKey reports a key that ServerConfigRules controls (they are
// also the node-specific keys, left out of the effective settings).
func controlledKey(k string) bool {
	f := &serverconf.File{Settings: []serverconf.Setting{{Name: k, Value: "x"}}}
	return f.Check(ServerConfigRules) != nil
}

// yamlDefaults are chaoscheck's cassandra.yaml keys that are the same on
// every node, rendered from the template.
func (c Config) yamlDefaults() ([]serverconf.Default, error) {
	y, err := render("conf/cassandra.yaml.tmpl", yamlParams{
		Node: "n1", InitialToken: "0", Seeds: "127.0.0.1:7000", Addr: netip.MustParseAddr("127.0.0.1"), Dir: "/n1",
		CommitlogSync: c.CommitlogSync, ServerTimeoutMS: c.ServerTimeout.Milliseconds(),
	})
	if err != nil {
		return nil, err
	}
	return serverconf.YAMLDefaults(string(y), controlledKey)
}

// mergeYAML returns a node's generated cassandra.yaml with the user's
// keys (Config.ServerConfig) in place of chaoscheck's, the user's others
// appended.
func mergeYAML(generated []byte, user *serverconf.File) ([]byte, error) {
	if user == nil {
		return generated, nil
	}
	m, err := serverconf.MergeYAML(string(generated), user)
	if err != nil {
		return nil, fmt.Errorf("cassandra: %w", err)
	}
	return []byte(m), nil
}

// ServerConfig returns the user's configuration as test.json keeps it
// (targets.ServerConfigured); nil without one.
func (t *Target) ServerConfig() *rundir.ServerConfig {
	if t.cfg.ServerConfig == nil {
		return nil
	}
	d, err := t.cfg.yamlDefaults()
	if err != nil {
		d = nil // the template is this package's: TestYAMLDefaults renders it
	}
	return t.cfg.ServerConfig.Record(serverconf.Effective(d, t.cfg.ServerConfig))
}

var (
	_ targets.FactReporter = (*Deployment)(nil)
	_ targets.FactReporter = (*view)(nil)
)

// Facts returns the cluster's typed facts (targets.FactReporter).
func (d *Deployment) Facts() targets.Facts { return d.facts(d.cfg.clientOptions()) }

// Facts returns the facts with this view's client settings.
func (v *view) Facts() targets.Facts { return v.d.facts(v.o) }

// facts: Dynamo-style quorums over the keyspace's replication factor,
// last write wins on the coordinator's clock unless the driver stamps
// writes, hinted handoff and commitlog sync as in force (the user's
// cassandra.yaml may turn hinted handoff off).
func (d *Deployment) facts(o ClientOptions) targets.Facts {
	rf := d.cfg.ReplicationFactor
	r, w := replicasFor(o.ReadCL, rf), replicasFor(o.WriteCL, rf)
	f := targets.Facts{
		Nodes: d.cfg.Nodes, ReplicationFactor: rf,
		ReadLevel: o.ReadCL, WriteLevel: o.WriteCL, ReadReplicas: r, WriteReplicas: w,
		Replication:       rundir.Quorum,
		ReplicationDetail: fmt.Sprintf("every write goes to all %d replicas and is acknowledged after W=%d; the others apply it when it reaches them (hints, repair)", rf, w),
		Conflict:          "last write wins, by the coordinator's clock (server timestamps)", ConflictByClock: true,
		Coordinator: rundir.RandomCoordinator, CoordinatorDetail: "any node (token-aware, round-robin fallback)",
		Durability:    "commitlog_sync batch: an acknowledged write is on disk",
		HintedHandoff: rundir.Bool(true),
	}
	if o.ClientTimestamps {
		f.Conflict, f.ConflictByClock = "last write wins, by the driver's timestamps (the controller's clock)", false
	}
	if o.Sticky {
		f.Coordinator, f.CoordinatorDetail = rundir.StickyCoordinator, "sticky (process p -> node p mod N)"
	}
	if d.cfg.CommitlogSync == "periodic" {
		f.Durability, f.DurabilityLosesAcked = "commitlog_sync periodic (10 s): a killed node can lose writes it acknowledged", true
	}
	if s, ok := d.cfg.ServerConfig.Last("hinted_handoff_enabled"); ok {
		on := strings.EqualFold(s.Value, "true")
		f.HintedHandoff = rundir.Bool(on)
	}
	f.Topology = d.topology()
	return f
}

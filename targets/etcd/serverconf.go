//go:build linux

package etcd

import (
	"fmt"
	"strings"

	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// ServerConfigRules are the etcd flags that chaoscheck controls, refused
// in --server-config: each member's name, directories and URLs, the
// initial cluster, TLS (clients and peers talk plain HTTP), the log
// (collected from stderr) and what chaoscheck's own flags set.
var ServerConfigRules = []serverconf.Rule{
	{Name: "name", Why: "each member's name"},
	{Name: "data-dir", Why: "each member's data directory"},
	{Name: "wal-dir", Why: "each member's data directory"},
	{Name: "config-file", Why: "the members are configured by flags"},
	{Name: "listen-peer-urls", Why: "each member's address and peer port"},
	{Name: "listen-client-urls", Why: "each member's address and client port"},
	{Name: "listen-client-http-urls", Why: "each member's address and client port"},
	{Name: "listen-metrics-urls", Why: "each member's addresses"},
	{Name: "initial-advertise-peer-urls", Why: "each member's address and peer port"},
	{Name: "advertise-client-urls", Why: "each member's address and client port"},
	{Name: "initial-cluster", Prefix: true, Why: "cluster wiring: the members chaoscheck starts"},
	{Name: "discovery", Prefix: true, Why: "cluster wiring: the members chaoscheck starts"},
	{Name: "force-new-cluster", Why: "cluster wiring: the members chaoscheck starts"},
	{Name: "proxy", Prefix: true, Why: "every node is a full member"},
	{Name: "client-cert-auth", Why: "clients connect over plain HTTP"},
	{Name: "cert-file", Why: "clients connect over plain HTTP"},
	{Name: "key-file", Why: "clients connect over plain HTTP"},
	{Name: "trusted-ca-file", Why: "clients connect over plain HTTP"},
	{Name: "auto-tls", Why: "clients connect over plain HTTP"},
	{Name: "peer-", Prefix: true, Why: "members talk plain HTTP to each other"},
	{Name: "logger", Why: "the member's log, which chaoscheck collects from stderr"},
	{Name: "log-outputs", Why: "the member's log, which chaoscheck collects from stderr"},
	{Name: "pre-vote", Why: "set by chaoscheck's --pre-vote flag (recorded as a fact of the test)"},
}

// flagDefaults are chaoscheck's etcd flags that are the same on every
// member, in order: those of Deployment.args less the member-specific
// ones (TestFlagDefaultsMatchArgs holds the two to each other). They
// are what test.json lists as chaoscheck's effective settings.
func (c Config) flagDefaults() []serverconf.Default {
	return []serverconf.Default{
		{Name: "initial-cluster-state", Value: "new"},
		{Name: "pre-vote", Value: fmt.Sprint(c.preVote())},
		{Name: "logger", Value: "zap"},
		{Name: "log-outputs", Value: "stderr"},
	}
}

// mergeArgs returns a member's generated command line with the user's
// flags (Config.ServerConfig) in place of chaoscheck's of the same name,
// the user's others appended, each as --name=value. The user's file
// cannot name a member-specific flag (the rules refuse them). Without a
// file it returns args as they are.
func (c Config) mergeArgs(args []string) []string {
	if c.ServerConfig == nil {
		return args
	}
	var out []string
	for _, s := range serverconf.Merge(parseArgs(args), c.ServerConfig) {
		out = append(out, "--"+s.Name+"="+s.Value)
	}
	return out
}

// parseArgs reads a command line of --name value, --name=value and
// --name (true) flags.
func parseArgs(args []string) []serverconf.Default {
	var out []serverconf.Default
	for i := 0; i < len(args); i++ {
		name := strings.TrimLeft(args[i], "-")
		if j := strings.IndexByte(name, '='); j >= 0 {
			out = append(out, serverconf.Default{Name: name[:j], Value: name[j+1:]})
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out = append(out, serverconf.Default{Name: name, Value: args[i+1]})
			i++
			continue
		}
		out = append(out, serverconf.Default{Name: name, Value: "true"})
	}
	return out
}

// flag returns the user's value of an etcd flag, or def.
func (c Config) flag(name, def string) string {
	if s, ok := c.ServerConfig.Last(name); ok {
		return s.Value
	}
	return def
}

// raftTiming describes the effective heartbeat and election timeout.
func (c Config) raftTiming() string {
	hb, el := c.flag("heartbeat-interval", ""), c.flag("election-timeout", "")
	if hb == "" && el == "" {
		return "etcd defaults: heartbeat 100ms, election timeout 1000ms"
	}
	parts := []string{"heartbeat " + strings.TrimSuffix(orDefault(hb, "100"), "ms") + "ms", "election timeout " + strings.TrimSuffix(orDefault(el, "1000"), "ms") + "ms"}
	return strings.Join(parts, ", ") + " (--server-config)"
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// ServerConfig returns the user's flags as test.json keeps them
// (targets.ServerConfigured); nil without any.
func (t *Target) ServerConfig() *rundir.ServerConfig {
	if t.cfg.ServerConfig == nil {
		return nil
	}
	return t.cfg.ServerConfig.Record(serverconf.Effective(t.cfg.flagDefaults(), t.cfg.ServerConfig))
}

var _ targets.FactReporter = (*Deployment)(nil)

// Facts returns the cluster's typed facts (targets.FactReporter): raft
// replication (W is a majority), R a majority for linearizable reads (the
// leader confirms its leadership with a quorum) and 1 for serializable
// ones (any member's local state).
func (d *Deployment) Facts() targets.Facts {
	n := len(d.nodes)
	f := targets.Facts{
		Nodes: n, ReplicationFactor: n,
		ReadLevel: d.cfg.Read.String(), WriteLevel: "raft majority",
		ReadReplicas: n/2 + 1, WriteReplicas: n/2 + 1,
		Replication:       rundir.Consensus,
		ReplicationDetail: "raft: a write is acknowledged once a majority of members logged it",
		Conflict:          "none: the raft leader orders every write",
		Coordinator:       rundir.RandomCoordinator, CoordinatorDetail: "balanced over all members (a follower forwards to the leader)",
		Durability: "the raft log is fsynced before a write is acknowledged",
	}
	if d.cfg.Read == Serializable {
		f.ReadReplicas = 1
	}
	if d.cfg.Sticky {
		f.Coordinator, f.CoordinatorDetail = rundir.StickyCoordinator, "sticky: process p uses member n(1 + p mod N)"
	}
	if v := d.cfg.flag("unsafe-no-fsync", "false"); v == "true" {
		f.Durability = "--unsafe-no-fsync" + userLine(d.cfg.ServerConfig, "unsafe-no-fsync") + ": the raft log is not fsynced, so killed members can lose acknowledged writes"
		f.DurabilityLosesAcked = true
	}
	return f
}

// userLine names the line of the user's setting, " (--server-config
// FILE line N)", or "" when the file does not set it.
func userLine(f *serverconf.File, name string) string {
	if s, ok := f.Last(name); ok {
		return fmt.Sprintf(" (--server-config %s line %d)", f.Path, s.Line)
	}
	return ""
}

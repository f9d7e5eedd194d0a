//go:build linux

package postgres

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// ServerConfigRules are the postgresql.conf settings that chaoscheck
// controls, refused in --server-config: the node's files, addresses and
// ports, the replication wiring that failover rewrites, and the settings
// replication and the report's log collection need.
var ServerConfigRules = []serverconf.Rule{
	{Name: "data_directory", Why: "each node's data directory"},
	{Name: "config_file", Why: "the configuration chaoscheck writes"},
	{Name: "hba_file", Why: "pg_hba.conf, which lets the node network and the controller in"},
	{Name: "ident_file", Why: "the data directory's pg_ident.conf"},
	{Name: "external_pid_file", Why: "the node's files"},
	{Name: "listen_addresses", Why: "each node's address"},
	{Name: "port", Why: "the port clients and standbys connect to"},
	{Name: "unix_socket_directories", Why: "each node's socket directory"},
	{Name: "unix_socket_group", Why: "each node's socket directory"},
	{Name: "unix_socket_permissions", Why: "each node's socket directory"},
	{Name: "cluster_name", Why: "the node name, which synchronous_standby_names and pg_stat_replication use"},
	{Name: "primary_conninfo", Why: "replication wiring: each standby's primary, rewritten on failover"},
	{Name: "primary_slot_name", Why: "replication wiring"},
	{Name: "synchronous_standby_names", Why: "replication wiring, set on every new primary by --replication"},
	{Name: "restore_command", Why: "replication wiring: standbys stream from the primary"},
	{Name: "archive_cleanup_command", Why: "replication wiring"},
	{Name: "recovery_end_command", Why: "replication wiring"},
	{Name: "recovery_target", Prefix: true, Why: "replication wiring: standbys follow the primary to its end"},
	{Name: "promote_trigger_file", Why: "failover: chaoscheck promotes with pg_promote"},
	{Name: "hot_standby", Why: "reads from standbys and the promotion checks", Allowed: "on", Allow: isOn},
	{Name: "wal_level", Why: "streaming replication", Allowed: "replica or logical", Allow: func(v string) bool {
		v = strings.ToLower(unquote(v))
		return v == "replica" || v == "logical"
	}},
	{Name: "max_wal_senders", Why: "one WAL sender per standby, and one per clone", Allowed: "at least 16", Allow: func(v string) bool {
		n, err := strconv.Atoi(unquote(v))
		return err == nil && n >= 16
	}},
	{Name: "logging_collector", Why: "the server log, which chaoscheck collects from the server's stderr", Allowed: "off", Allow: func(v string) bool { return !isOn(v) }},
	{Name: "log_destination", Why: "the server log, which chaoscheck collects from the server's stderr", Allowed: "stderr", Allow: func(v string) bool { return strings.ToLower(unquote(v)) == "stderr" }},
}

// isOn reports a postgres boolean that is true (on, true, yes, 1, and
// their unambiguous prefixes are not needed here).
func isOn(v string) bool {
	switch strings.ToLower(unquote(v)) {
	case "on", "true", "yes", "1", "t", "y":
		return true
	}
	return false
}

// unquote removes single quotes from a postgresql.conf value as written
// (” and \' stand for a quote).
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		v = v[1 : len(v)-1]
		v = strings.ReplaceAll(v, "''", "'")
		v = strings.ReplaceAll(v, `\'`, "'")
	}
	return v
}

// confDefaults are chaoscheck's own postgresql.conf settings (serverConf),
// in order.
func confDefaults() []serverconf.Default {
	f, err := serverconf.Parse("serverConf", serverConf, serverconf.PostgresConf)
	if err != nil {
		// serverConf is a constant of this package: TestServerConfDefaults
		// parses it.
		panic(err)
	}
	out := make([]serverconf.Default, len(f.Settings))
	for i, s := range f.Settings {
		out[i] = serverconf.Default{Name: s.Name, Value: s.Value}
	}
	return out
}

// confText is what chaoscheck appends to the primary's postgresql.conf
// after initdb (standbys inherit it through pg_basebackup): its defaults,
// with the user's settings (Config.ServerConfig) in place of those of the
// same name, then the user's others. Node-specific settings are
// command-line options (server.spec), which no file overrides.
func (c Config) confText() string {
	var b strings.Builder
	b.WriteString("\n# chaoscheck")
	if c.ServerConfig != nil {
		fmt.Fprintf(&b, ": defaults merged with --server-config %s (its settings win)", c.ServerConfig.Path)
	}
	b.WriteString("\n")
	for _, s := range serverconf.Merge(confDefaults(), c.ServerConfig) {
		fmt.Fprintf(&b, "%s = %s\n", s.Name, s.Value)
	}
	return b.String()
}

// effective returns the value in force of a postgresql.conf setting
// that chaoscheck sets (the user's when the file sets it), unquoted.
func (c Config) effective(name string) string {
	if s, ok := c.ServerConfig.Last(name); ok {
		return unquote(s.Value)
	}
	for _, d := range confDefaults() {
		if d.Name == name {
			return unquote(d.Value)
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
	return t.cfg.ServerConfig.Record(serverconf.Effective(confDefaults(), t.cfg.ServerConfig))
}

// waitsForStandby reports whether a commit, with synchronous replication,
// waits for a standby at the effective synchronous_commit: on,
// remote_write and remote_apply do; local and off do not.
func (c Config) waitsForStandby() bool {
	switch strings.ToLower(c.effective("synchronous_commit")) {
	case "local", "off", "false", "no", "0":
		return false
	}
	return true
}

var _ targets.FactReporter = (*Deployment)(nil)

// Facts returns the cluster's typed facts (targets.FactReporter), with
// the user's server configuration merged: with --replication sync but a
// synchronous_commit that waits for no standby, replication is in effect
// asynchronous, and that is what the facts say.
func (d *Deployment) Facts() targets.Facts {
	nodes := d.cl.Nodes()
	f := targets.Facts{
		Nodes: len(nodes), ReplicationFactor: len(nodes),
		ReadLevel: d.cfg.ReadFrom.String(), WriteLevel: "primary",
		Replication:       rundir.Asynchronous,
		ReplicationDetail: "asynchronous streaming replication (synchronous_standby_names=''): a commit returns once the primary has it",
		Conflict:          "none: one primary orders every write",
		Coordinator:       rundir.PrimaryCoordinator, CoordinatorDetail: "writes to the current primary, reads from " + d.cfg.ReadFrom.String(),
		Primary:    d.cl.Primary(),
		Isolation:  d.cfg.Isolation.String(),
		Durability: fmt.Sprintf("fsync=%s, synchronous_commit=%s", d.fsync, d.cfg.effective("synchronous_commit")),
	}
	if d.cfg.ReadFrom != Primary {
		f.Coordinator = rundir.RandomCoordinator
	}
	sc := d.cfg.effective("synchronous_commit")
	if d.cfg.Replication == Sync {
		f.Replication = rundir.Synchronous
		f.ReplicationDetail = fmt.Sprintf("synchronous streaming replication: a commit returns once one standby flushed it (synchronous_standby_names='%s', synchronous_commit=%s)", d.cl.syncStandbyNames(d.cl.Primary()), sc)
		if !d.cfg.waitsForStandby() {
			f.Replication = rundir.Asynchronous
			f.ReplicationDetail = fmt.Sprintf("--replication sync, but synchronous_commit=%s%s: a commit returns without waiting for any standby, so replication is in effect asynchronous", sc, userLine(d.cfg.ServerConfig, "synchronous_commit"))
		}
	}
	if !isOn(d.fsync) || strings.EqualFold(sc, "off") {
		f.DurabilityLosesAcked = true
		f.Durability += ": a crashed server can lose commits it acknowledged"
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

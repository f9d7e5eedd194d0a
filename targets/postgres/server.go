//go:build linux

package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// Port is the port every node's server listens on (each node has its own
// network namespace, so they do not clash).
const Port = 5432

// Bounds of the waits of this package; each is also bounded by the
// caller's context.
const (
	// ConnectTimeout bounds opening one connection (clients and admin).
	ConnectTimeout = time.Second
	// ToolTimeout bounds one initdb or pg_basebackup run.
	ToolTimeout = 60 * time.Second
	// ReadyTimeout bounds waiting for a started server to accept
	// connections.
	ReadyTimeout = 60 * time.Second
	// StreamTimeout bounds waiting for standbys to stream from the
	// primary.
	StreamTimeout = 30 * time.Second
	// PromoteTimeout bounds a promotion until the new primary takes
	// writes.
	PromoteTimeout = 30 * time.Second
	// AdminTimeout bounds one administrative statement.
	AdminTimeout = 5 * time.Second
	// pollEvery is the period of the polling loops.
	pollEvery = 50 * time.Millisecond
)

// serverConf are chaoscheck's postgresql.conf settings, merged with the
// user's (Config.confText) and appended to the primary's postgresql.conf
// after initdb; standbys inherit it through pg_basebackup. Node-specific settings
// (addresses, socket directory, cluster_name) are command-line options.
const serverConf = `
# chaoscheck
wal_level = replica
max_wal_senders = 16
max_replication_slots = 16
wal_keep_size = 512MB
hot_standby = on
wal_log_hints = on
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
shared_buffers = 32MB
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 1s
log_line_prefix = '%m [%p] %a '
log_min_messages = warning
# Transactions that lock rows in different orders deadlock; find them in
# 100 ms rather than the default 1 s, which stalls every waiter behind
# them for that long (read committed list-append).
deadlock_timeout = 100ms
`

// layout names the per-node paths under the state dir.
type layout struct{ root string }

func (l layout) nodeDir(node string) string { return filepath.Join(l.root, node) }
func (l layout) dataDir(node string) string { return filepath.Join(l.root, node, "data") }
func (l layout) sockDir(node string) string { return filepath.Join(l.root, node, "run") }

// server knows how to run the PostgreSQL tools on one local cluster.
type server struct {
	cfg      Config
	lc       cluster.Hosts
	dirs     layout
	uid, gid uint32
	// paths are the programs' paths on the nodes (cluster.Layout):
	// postgres, initdb, pg_basebackup, sh.
	paths map[string]string
}

// binDir is the directory of the server on the nodes.
func (s *server) binDir() string { return filepath.Dir(s.paths["postgres"]) }

// env is the environment of the server and its tools.
func (s *server) env() []string {
	return []string{
		"PATH=" + s.binDir() + ":/usr/local/bin:/usr/bin:/bin",
		"LANG=C",
		"LC_ALL=C",
		"HOME=" + s.dirs.root,
		"PGUSER=postgres",
	}
}

// spec is the process of a node's server; the role (primary or standby)
// is decided by the data directory (standby.signal), so the same spec
// serves for restarts after a promotion or a re-clone.
func (s *server) spec(node string) cluster.NodeSpec {
	return cluster.NodeSpec{
		Name: "postgres",
		Path: s.paths["postgres"],
		Args: []string{
			"-D", s.dirs.dataDir(node),
			"-c", "listen_addresses=" + s.lc.Addr(node).String(),
			"-c", "port=" + strconv.Itoa(Port),
			"-c", "unix_socket_directories=" + s.dirs.sockDir(node),
			"-c", "cluster_name=" + node,
		},
		Env:     s.env(),
		Dir:     s.dirs.nodeDir(node),
		Ports:   []uint16{Port},
		UID:     s.uid,
		GID:     s.gid,
		LogFile: filepath.Join(s.dirs.nodeDir(node), "postgres.log"),
	}
}

// tool runs a PostgreSQL tool on behalf of node as the server's user, in
// the controller's namespace (the controller leg reaches every node),
// bounded by ToolTimeout, through the runtime (Hosts.Exec; on the local
// runtime: in the node's cgroup, journaled, killed with everything it
// forked, initdb's postgres --boot, when it ends, is cancelled or the
// controller dies).
func (s *server) tool(ctx context.Context, node, name string, args ...string) error {
	_, err := s.lc.Exec(ctx, node, cluster.Command{
		Path:    s.paths[name],
		Args:    args,
		Env:     s.env(),
		Dir:     s.dirs.root,
		UID:     s.uid,
		GID:     s.gid,
		Timeout: ToolTimeout,
	})
	return err
}

// prepareNode creates, on the node (through the runtime, as root), the
// node's directory and socket directory and an empty data directory
// (removing an old one), owned by the server's user.
func (s *server) prepareNode(ctx context.Context, node string) error {
	_, err := s.lc.Exec(ctx, node, cluster.Command{
		Name: "prepare",
		Path: s.paths["sh"],
		Args: []string{"-c", `set -e; rm -rf "$3"; install -d -m 0755 -o "$4" -g "$5" "$1" "$2"; install -d -m 0700 -o "$4" -g "$5" "$3"`,
			"sh", s.dirs.nodeDir(node), s.dirs.sockDir(node), s.dirs.dataDir(node), strconv.Itoa(int(s.uid)), strconv.Itoa(int(s.gid))},
		Env:     s.env(),
		Timeout: AdminTimeout,
	})
	if err != nil {
		return fmt.Errorf("prepare the directories of %s: %w", node, err)
	}
	return nil
}

// appendFile appends text to path on node (through the runtime, as the
// server's user).
func (s *server) appendFile(ctx context.Context, node, path, text string) error {
	_, err := s.lc.Exec(ctx, node, cluster.Command{
		Name:    "append",
		Path:    s.paths["sh"],
		Args:    []string{"-c", `printf '%s' "$1" >> "$2"`, "sh", text, path},
		Env:     s.env(),
		UID:     s.uid,
		GID:     s.gid,
		Timeout: AdminTimeout,
	})
	if err != nil {
		return fmt.Errorf("append to %s on %s: %w", path, node, err)
	}
	return nil
}

// initPrimary creates the first primary's data directory.
func (s *server) initPrimary(ctx context.Context, node string) error {
	if err := s.prepareNode(ctx, node); err != nil {
		return err
	}
	if err := s.tool(ctx, node, "initdb", "-D", s.dirs.dataDir(node), "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--locale=C"); err != nil {
		return fmt.Errorf("initdb %s: %w", node, err)
	}
	conf := filepath.Join(s.dirs.dataDir(node), "postgresql.conf")
	if err := s.appendFile(ctx, node, conf, s.cfg.confText()); err != nil {
		return err
	}
	subnet := netip.PrefixFrom(s.lc.Addr(node), 24).Masked().String()
	hba := fmt.Sprintf("\n# chaoscheck: the node network and the controller leg\nhost all all %s trust\nhost replication all %s trust\n", subnet, subnet)
	return s.appendFile(ctx, node, filepath.Join(s.dirs.dataDir(node), "pg_hba.conf"), hba)
}

// cloneFrom replaces node's data directory with a base backup of the
// primary at from, configured as its standby (-R), and starts nothing.
func (s *server) cloneFrom(ctx context.Context, node, from string) error {
	if err := s.prepareNode(ctx, node); err != nil {
		return err
	}
	conninfo := fmt.Sprintf("host=%s port=%d user=postgres connect_timeout=1", s.lc.Addr(from), Port)
	if err := s.tool(ctx, node, "pg_basebackup", "-d", conninfo, "-D", s.dirs.dataDir(node),
		"-R", "-X", "stream", "-c", "fast"); err != nil {
		return fmt.Errorf("clone %s from %s: %w", node, from, err)
	}
	return nil
}

// connConfig is the pgx configuration for a node.
func (s *server) connConfig(node string) (*pgx.ConnConfig, error) {
	cc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=1 application_name=chaoscheck",
		s.lc.Addr(node), Port))
	if err != nil {
		return nil, fmt.Errorf("postgres: connection config of %s: %w", node, err)
	}
	cc.ConnectTimeout = ConnectTimeout
	return cc, nil
}

// connect opens a connection to node, bounded by ConnectTimeout.
func (s *server) connect(ctx context.Context, node string) (*pgx.Conn, error) {
	cc, err := s.connConfig(node)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("connect to %s (%s): %w", node, s.lc.Addr(node), err)
	}
	return c, nil
}

// admin runs f on a fresh connection to node, bounded by AdminTimeout.
func (s *server) admin(ctx context.Context, node string, f func(ctx context.Context, c *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, AdminTimeout)
	defer cancel()
	c, err := s.connect(ctx, node)
	if err != nil {
		return err
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer ccancel()
		_ = c.Close(cctx)
	}()
	return f(ctx, c)
}

// exec runs statements on node, one at a time.
func (s *server) exec(ctx context.Context, node string, stmts ...string) error {
	return s.admin(ctx, node, func(ctx context.Context, c *pgx.Conn) error {
		for _, st := range stmts {
			if _, err := c.Exec(ctx, st); err != nil {
				return fmt.Errorf("%s on %s: %w", st, node, err)
			}
		}
		return nil
	})
}

// waitReady polls until node accepts connections, its process exits, or
// ReadyTimeout passes.
func (s *server) waitReady(ctx context.Context, node string, p cluster.Process) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	var last error
	for {
		if p != nil && !p.Running() {
			return fmt.Errorf("postgres on %s exited (%v): %s", node, p.Err(), s.logTail(node))
		}
		last = s.admin(ctx, node, func(ctx context.Context, c *pgx.Conn) error {
			var one int
			return c.QueryRow(ctx, "SELECT 1").Scan(&one)
		})
		if last == nil {
			return nil
		}
		if !sleep(ctx, pollEvery) {
			return fmt.Errorf("postgres on %s not ready after %v: %w (log: %s)", node, ReadyTimeout, last, s.logTail(node))
		}
	}
}

// waitStreaming polls the primary's pg_stat_replication until every
// standby in nodes streams, or StreamTimeout passes.
func (s *server) waitStreaming(ctx context.Context, primary string, nodes []string) error {
	if len(nodes) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, StreamTimeout)
	defer cancel()
	var last error
	for {
		streaming := map[string]bool{}
		last = s.admin(ctx, primary, func(ctx context.Context, c *pgx.Conn) error {
			rows, err := c.Query(ctx, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")
			if err != nil {
				return err
			}
			names, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			for _, n := range names {
				streaming[n] = true
			}
			return nil
		})
		var missing []string
		for _, n := range nodes {
			if !streaming[n] {
				missing = append(missing, n)
			}
		}
		if last == nil && len(missing) == 0 {
			return nil
		}
		if last == nil {
			last = fmt.Errorf("not streaming: %s", strings.Join(missing, ", "))
		}
		if !sleep(ctx, pollEvery) {
			return fmt.Errorf("standbys of %s not streaming after %v: %w", primary, StreamTimeout, last)
		}
	}
}

// logTail returns the end of node's server log, for error messages.
func (s *server) logTail(node string) string {
	b, err := os.ReadFile(filepath.Join(s.dirs.nodeDir(node), "postgres.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return strings.TrimSpace(string(b))
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

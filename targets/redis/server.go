//go:build linux

package redis

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// DefaultImage is the official Redis image, the target's default on
// runtimes that run images.
const DefaultImage = "redis:7"

// nodeNeeds is what the nodes run: redis-server, through env(1) (to start
// it without LD_PRELOAD), as user (its uid is the node's: 999 in the
// official image).
func nodeNeeds(user string) cluster.NodeNeeds {
	return cluster.NodeNeeds{Programs: []cluster.Program{{Name: "env"}, {Name: "redis-server"}}, Users: []string{user}}
}

// Port is the port every node's server listens on (each node has its own
// network namespace).
const Port = 6379

// Bounds of the waits of this package; each is also bounded by the
// caller's context.
const (
	// DialTimeout bounds opening one connection (clients and admin).
	DialTimeout = time.Second
	// AdminTimeout bounds one administrative command.
	AdminTimeout = 3 * time.Second
	// ReadyTimeout bounds waiting for a started server to answer PING.
	ReadyTimeout = 30 * time.Second
	// CreateTimeout bounds redis-cli --cluster create.
	CreateTimeout = 60 * time.Second
	// ClusterOKTimeout bounds waiting for cluster_state:ok on every node.
	ClusterOKTimeout = 30 * time.Second
	// LinkTimeout bounds waiting for replicas to report
	// master_link_status:up.
	LinkTimeout = 30 * time.Second
	// PromoteTimeout bounds a promotion until the new primary reports
	// role:master.
	PromoteTimeout = 10 * time.Second
	// pollEvery is the period of the polling loops.
	pollEvery = 50 * time.Millisecond
)

// server knows how to configure and talk to the servers of one local
// cluster.
type server struct {
	cfg      Config
	bin      string // redis-server's path on the nodes
	env      string // env(1)'s path on the nodes
	lc       cluster.Hosts
	root     string
	uid, gid uint32
}

func (s *server) nodeDir(node string) string { return filepath.Join(s.root, node) }
func (s *server) dataDir(node string) string { return filepath.Join(s.root, node, "data") }
func (s *server) confPath(node string) string {
	return filepath.Join(s.root, node, "redis.conf")
}
func (s *server) logPath(node string) string { return filepath.Join(s.root, node, "redis.log") }

// addr is node's host:port.
func (s *server) addr(node string) string {
	return net.JoinHostPort(s.lc.Addr(node).String(), strconv.Itoa(Port))
}

// nodeOfAddr maps host:port back to a node name ("" when unknown).
func (s *server) nodeOfAddr(addr string) string {
	for _, n := range s.lc.Nodes() {
		if s.addr(n) == addr {
			return n
		}
	}
	return ""
}

// conf is node's redis.conf. replicaOf names the node it replicates
// ("" for a primary or a cluster node).
func (s *server) conf(node, replicaOf string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# chaoscheck: node %s", node)
	w("port %d", Port)
	w("bind %s", s.lc.Addr(node))
	w("protected-mode no")
	w("daemonize no")
	w("logfile \"\"")
	w("dir %s", s.dataDir(node))
	b.WriteString(durabilityLines(s))
	// Full resyncs stream at once instead of waiting 5 s for more
	// replicas.
	w("repl-diskless-sync yes")
	w("repl-diskless-sync-delay 0")
	w("replica-read-only yes")
	if s.cfg.Mode == Cluster {
		w("cluster-enabled yes")
		w("cluster-config-file %s", filepath.Join(s.dataDir(node), "nodes.conf"))
		w("cluster-node-timeout %d", s.cfg.NodeTimeout.Milliseconds())
	}
	if replicaOf != "" {
		w("replicaof %s %d", s.lc.Addr(replicaOf), Port)
	}
	return b.String()
}

// durabilityLines are the persistence settings of redis.conf: none at
// all, or the AOF fsynced on every write.
func durabilityLines(s *server) string {
	if s.cfg.AppendOnly {
		return "save \"\"\nappendonly yes\nappendfsync always\n"
	}
	return "save \"\"\nappendonly no\n"
}

// confFile is node's redis.conf as a file to place on the node, with the
// user's --server-config merged in (Config.mergeConf).
func (s *server) confFile(node, replicaOf string) cluster.File {
	return cluster.File{Path: s.confPath(node), Data: []byte(s.cfg.mergeConf(s.conf(node, replicaOf))), Mode: 0o644}
}

// writeConf rewrites node's redis.conf on the node (through the
// runtime); it takes effect at the next start.
func (s *server) writeConf(ctx context.Context, node, replicaOf string) error {
	return cluster.WriteFile(ctx, s.lc, node, s.confFile(node, replicaOf))
}

// wipeData removes node's persisted data (AOF, RDB), so that a restart
// starts empty. The node is down (killed): the command runs for the
// whole cluster, where the state directory is (on the controller's
// side for the local and docker runtimes).
func (s *server) wipeData(ctx context.Context, node string) error {
	_, err := s.lc.Exec(ctx, "", cluster.Command{Path: "find", Args: []string{s.dataDir(node), "-mindepth", "1", "-delete"}, Timeout: AdminTimeout})
	if err != nil {
		return fmt.Errorf("wipe data of %s: %w", node, err)
	}
	return nil
}

// spec is the process of node's server, with its redis.conf (placed
// before the first start) and its data directory (owned by the server's
// user; it holds nodes.conf in Cluster mode). Its role comes from
// redis.conf, so Restart picks up a configuration rewritten by
// writeConf.
//
// The local runtime preloads libfaketime into every process when it is
// installed, and libfaketime hangs or kills Debian's redis-server (a
// jemalloc clash). So the server is started through env -u LD_PRELOAD,
// which execs it in place (same pid, same process group and cgroup)
// without the preload.
func (s *server) spec(node, replicaOf string) cluster.NodeSpec {
	return cluster.NodeSpec{
		Files:   []cluster.File{s.confFile(node, replicaOf)},
		DataDir: s.dataDir(node),
		Name:    "redis",
		Path:    s.env,
		Args:    []string{"-u", "LD_PRELOAD", s.bin, s.confPath(node)},
		Env:     []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C"},
		Dir:     s.nodeDir(node),
		UID:     s.uid,
		GID:     s.gid,
		LogFile: s.logPath(node),
	}
}

// clientOptions are the go-redis options shared by every connection of
// this target: RESP2, no CLIENT SETINFO, no maintenance notifications (so
// a connection sends nothing but our commands), no retries, and deadlines
// from the context.
func clientOptions(addr string, poolSize int, readTimeout time.Duration) *goredis.Options {
	return &goredis.Options{
		Addr:                     addr,
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		MaxRetries:               -1,
		DialTimeout:              DialTimeout,
		ReadTimeout:              readTimeout,
		WriteTimeout:             readTimeout,
		ContextTimeoutEnabled:    true,
		PoolSize:                 poolSize,
		PoolTimeout:              DialTimeout,
	}
}

// admin runs f with a fresh connection to node, bounded by AdminTimeout.
func (s *server) admin(ctx context.Context, node string, f func(ctx context.Context, c *goredis.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, AdminTimeout)
	defer cancel()
	c := goredis.NewClient(clientOptions(s.addr(node), 1, AdminTimeout))
	defer c.Close()
	if err := f(ctx, c); err != nil {
		return fmt.Errorf("%s (%s): %w", node, s.addr(node), err)
	}
	return nil
}

// info returns one INFO section of node as a map.
func (s *server) info(ctx context.Context, node, section string) (map[string]string, error) {
	var txt string
	err := s.admin(ctx, node, func(ctx context.Context, c *goredis.Client) error {
		var err error
		txt, err = c.Info(ctx, section).Result()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("INFO %s: %w", section, err)
	}
	return parseInfo(txt), nil
}

// parseInfo parses INFO output into key -> value.
func parseInfo(txt string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(txt))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// pollUntil calls cond every pollEvery until it returns nil, ctx ends or
// timeout passes; the error names what was awaited and cond's last error.
func pollUntil(ctx context.Context, timeout time.Duration, what string, cond func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		if !sleep(ctx, pollEvery) {
			return fmt.Errorf("%s: not reached within %v: %w", what, timeout, err)
		}
	}
}

// waitReady polls until node answers PING (and is not loading), its
// process exits, or ReadyTimeout passes.
func (s *server) waitReady(ctx context.Context, node string, p cluster.Process) error {
	return pollUntil(ctx, ReadyTimeout, "redis on "+node+" ready", func(ctx context.Context) error {
		if p != nil && !p.Running() {
			return fmt.Errorf("redis on %s exited (%v): %s", node, p.Err(), s.logTail(node))
		}
		return s.admin(ctx, node, func(ctx context.Context, c *goredis.Client) error {
			return c.Ping(ctx).Err()
		})
	})
}

// waitLinkUp polls until node is a replica of primary with
// master_link_status:up and no sync in progress.
func (s *server) waitLinkUp(ctx context.Context, node, primary string, timeout time.Duration) error {
	want := s.lc.Addr(primary).String()
	return pollUntil(ctx, timeout, fmt.Sprintf("%s replicating %s", node, primary), func(ctx context.Context) error {
		in, err := s.info(ctx, node, "replication")
		if err != nil {
			return err
		}
		if in["role"] != "slave" || in["master_host"] != want || in["master_link_status"] != "up" || in["master_sync_in_progress"] == "1" {
			return fmt.Errorf("role %s, master %s, link %s, sync in progress %s", in["role"], in["master_host"], in["master_link_status"], in["master_sync_in_progress"])
		}
		return nil
	})
}

// waitReplicating polls until node is a replica of primary with its link
// up (waitLinkUp) and the primary streams to it. The primary listing the
// replica as online is not enough: after a diskless full sync it starts
// the stream only at the replica's first REPLCONF ACK, up to a second
// later, and until then WAIT does not count the replica. So the poll
// writes probeKey on the primary and sends WAIT <online replicas> on the
// same connection, until every online replica (node among them)
// acknowledges it. The probe SETs are counted by NodeOps if this runs
// during a test (Rejoin).
func (s *server) waitReplicating(ctx context.Context, node, primary string, timeout time.Duration) error {
	if err := s.waitLinkUp(ctx, node, primary, timeout); err != nil {
		return err
	}
	ip := "ip=" + s.lc.Addr(node).String() + ","
	return pollUntil(ctx, timeout, fmt.Sprintf("%s streaming from %s", node, primary), func(ctx context.Context) error {
		in, err := s.info(ctx, primary, "replication")
		if err != nil {
			return err
		}
		listed, online := false, 0
		for k, v := range in {
			if !strings.HasPrefix(k, "slave") || !strings.HasPrefix(v, "ip=") {
				continue
			}
			if strings.Contains(v, ",state=online,") {
				online++
				if strings.HasPrefix(v, ip) {
					listed = true
				}
			}
		}
		if !listed {
			return fmt.Errorf("%s does not list %s as an online replica", primary, node)
		}
		return s.admin(ctx, primary, func(ctx context.Context, c *goredis.Client) error {
			var wait *goredis.IntCmd
			_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
				p.Set(ctx, probeKey, 1, 0)
				wait = goredis.NewIntCmd(ctx, "wait", online, 100)
				return p.Process(ctx, wait)
			})
			if err != nil {
				return err
			}
			if n := wait.Val(); n < int64(online) {
				return fmt.Errorf("WAIT %d: %d replicas acknowledged a probe write", online, n)
			}
			return nil
		})
	})
}

// probeKey is written by waitReplicating; no workload uses it (workload
// keys start with the workload's name).
const probeKey = "chaoscheck:replication-probe"

// createCluster runs redis-cli --cluster create from the controller's
// namespace, bounded by CreateTimeout.
func (s *server) createCluster(ctx context.Context) error {
	args := []string{"--cluster", "create"}
	for _, n := range s.lc.Nodes() {
		args = append(args, s.addr(n))
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(s.cfg.ReplicasPerMaster), "--cluster-yes")
	// Through the local runtime: in the cluster's cgroup and journal.
	_, err := s.lc.Exec(ctx, "", cluster.Command{Path: "redis-cli", Args: args, Timeout: CreateTimeout})
	return err
}

// waitClusterOK polls until every node reports cluster_state:ok and knows
// every other node, and every replica's link to its master is up.
func (s *server) waitClusterOK(ctx context.Context) error {
	nodes := s.lc.Nodes()
	return pollUntil(ctx, ClusterOKTimeout, "cluster_state:ok on every node", func(ctx context.Context) error {
		for _, n := range nodes {
			var txt string
			err := s.admin(ctx, n, func(ctx context.Context, c *goredis.Client) error {
				var err error
				txt, err = c.ClusterInfo(ctx).Result()
				return err
			})
			if err != nil {
				return err
			}
			in := parseInfo(txt)
			if in["cluster_state"] != "ok" || in["cluster_known_nodes"] != strconv.Itoa(len(nodes)) {
				return fmt.Errorf("%s: cluster_state %s, known nodes %s", n, in["cluster_state"], in["cluster_known_nodes"])
			}
			rep, err := s.info(ctx, n, "replication")
			if err != nil {
				return err
			}
			if rep["role"] == "slave" && rep["master_link_status"] != "up" {
				return fmt.Errorf("%s: replica with master link %s", n, rep["master_link_status"])
			}
		}
		return nil
	})
}

// logTail returns the end of node's server log, for error messages.
func (s *server) logTail(node string) string {
	b, err := os.ReadFile(s.logPath(node))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tail(string(b), 1500)
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
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

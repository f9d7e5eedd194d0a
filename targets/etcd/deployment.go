//go:build linux

package etcd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// Timeouts bounding the deployment's waits; each is also bounded by the
// caller's context.
const (
	// HealthTimeout bounds waiting for every member to be healthy after
	// start.
	HealthTimeout = 30 * time.Second
	// ProbeTimeout bounds one health request to one member.
	ProbeTimeout = time.Second
	// DialTimeout is the clients' clientv3.Config.DialTimeout.
	DialTimeout = time.Second
	// pollEvery is the health polling period.
	pollEvery = 100 * time.Millisecond
)

// Deployment is a running etcd cluster. It implements targets.Deployment.
type Deployment struct {
	cfg      Config
	lc       cluster.Hosts
	cl       *Cluster
	stateDir string
	uid, gid uint32

	nodes     []string
	endpoints map[string]string // node -> http://addr:2379
	procs     map[string]cluster.Process
	version   string
	deployed  time.Duration

	lag lagSampler // SampleLag's clients and leader positions (lag.go)

	closeOnce sync.Once
	closeErr  error
}

var _ targets.Deployment = (*Deployment)(nil)

func newDeployment(cfg Config, lc cluster.Hosts, plan cluster.Plan, stateDir string, uid, gid uint32) *Deployment {
	d := &Deployment{
		cfg: cfg, lc: lc, cl: newCluster(lc, plan), stateDir: stateDir, uid: uid, gid: gid,
		nodes: lc.Nodes(), endpoints: map[string]string{}, procs: map[string]cluster.Process{},
	}
	for _, n := range d.nodes {
		d.endpoints[n] = fmt.Sprintf("http://%s:%d", lc.Addr(n), ClientPort)
	}
	return d
}

// dataDir is node's etcd data directory.
func (d *Deployment) dataDir(node string) string {
	return filepath.Join(d.stateDir, "data", node)
}

// LogFile is the path of node's etcd log (stdout and stderr).
func (d *Deployment) LogFile(node string) string {
	return filepath.Join(d.stateDir, "logs", node+"-etcd.log")
}

// args returns the etcd command line of node: a static initial cluster
// of every node.
func (d *Deployment) args(node string) []string {
	var initial []string
	for _, n := range d.nodes {
		initial = append(initial, fmt.Sprintf("%s=http://%s:%d", n, d.lc.Addr(n), PeerPort))
	}
	addr := d.lc.Addr(node)
	peer := fmt.Sprintf("http://%s:%d", addr, PeerPort)
	client := fmt.Sprintf("http://%s:%d", addr, ClientPort)
	return []string{
		"--name", node,
		"--data-dir", d.dataDir(node),
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--initial-cluster", strings.Join(initial, ","),
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "chaoscheck-" + d.lc.Name(),
		fmt.Sprintf("--pre-vote=%t", d.cfg.preVote()),
		"--logger", "zap",
		"--log-outputs", "stderr",
	}
}

// start starts every member (the runtime creates its data directory,
// 0700, owned by the member's user) and waits until the cluster is
// healthy.
func (d *Deployment) start(ctx context.Context) error {
	t0 := time.Now()
	for _, n := range d.nodes {
		p, err := d.lc.Start(ctx, n, cluster.NodeSpec{
			Name: "etcd", Path: d.cfg.Binary, Args: d.cfg.mergeArgs(d.args(n)),
			Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + d.dataDir(n)},
			Dir: d.dataDir(n), DataDir: d.dataDir(n), UID: d.uid, GID: d.gid, LogFile: d.LogFile(n),
			Ports: []uint16{ClientPort, PeerPort},
		})
		if err != nil {
			return err
		}
		d.procs[n] = p
	}
	if err := d.waitHealthy(ctx); err != nil {
		return err
	}
	d.deployed = time.Since(t0)
	return nil
}

// waitHealthy polls every member, bounded by HealthTimeout and ctx, until
// each reports a leader and answers a linearizable read; it records the
// server version. A member whose process exits fails the wait at once,
// with the end of its log.
func (d *Deployment) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, HealthTimeout)
	defer cancel()
	for _, n := range d.nodes {
		if err := d.waitMember(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// waitMember polls one member until it is healthy (see waitHealthy).
func (d *Deployment) waitMember(ctx context.Context, node string) error {
	ep := d.endpoints[node]
	cli, err := newClient([]string{ep})
	if err != nil {
		return fmt.Errorf("health client for %s: %w", node, err)
	}
	defer cli.Close()
	var last error
	for {
		if p := d.procs[node]; p != nil && !p.Running() {
			return fmt.Errorf("etcd on %s exited (%v) before it was healthy; log %s: %s", node, p.Err(), d.LogFile(node), logTail(d.LogFile(node), 1500))
		}
		pctx, pcancel := context.WithTimeout(ctx, ProbeTimeout)
		st, err := cli.Status(pctx, ep)
		if err == nil && st.Leader == 0 {
			err = errors.New("no leader yet")
		}
		if err == nil {
			_, err = cli.Get(pctx, "chaoscheck-health")
		}
		pcancel()
		if err == nil {
			if d.version == "" {
				d.version = st.Version
			}
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd on %s not healthy: %w (last error: %v); log %s", node, ctx.Err(), last, d.LogFile(node))
		case <-time.After(pollEvery):
		}
	}
}

// logTail returns about the last n bytes of a file, for error messages.
func logTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	off := max(st.Size()-n, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(buf))
}

// newClient opens a clientv3 client on endpoints: DialTimeout, no
// endpoint auto-sync (the member list is static and a sticky client must
// stay on its member), no client logging, and exactly one attempt per
// request (MaxUnaryRetries 1).
//
// The single attempt matters for honest histories: clientv3's retry
// interceptor re-sends even a Put or Txn when an attempt ends with a
// DeadlineExceeded or Canceled status while the caller's context is still
// alive (which a server-side timeout can produce after the request was
// proposed). One recorded operation would then be two requests: a CAS
// whose first attempt swapped would report not-swapped, and a write could
// land twice around another client's write. With one attempt, the error
// a method sees is the fate of the only request it sent.
func newClient(endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:        endpoints,
		DialTimeout:      DialTimeout,
		AutoSyncInterval: 0,
		MaxUnaryRetries:  1,
		Logger:           zap.NewNop(),
	})
}

// Cluster is where the nemesis applies faults: the runtime's without
// clock skew (see Cluster).
func (d *Deployment) Cluster() cluster.Cluster { return d.cl }

// Hosts returns the runtime's nodes (for tests and tools; faults should
// go through Cluster).
func (d *Deployment) Hosts() cluster.Hosts { return d.lc }

// Endpoint returns node's client URL, "" for an unknown node.
func (d *Deployment) Endpoint(node string) string { return d.endpoints[node] }

// Nodes returns the member names n1..nN.
func (d *Deployment) Nodes() []string { return append([]string(nil), d.nodes...) }

// StartupTime is how long starting the members and waiting for health
// took (excluding namespace setup).
func (d *Deployment) StartupTime() time.Duration { return d.deployed }

// NewClient opens a client for process: balanced over every member, or,
// with Config.Sticky, bound to member process mod Nodes. Opening does not
// wait for a connection.
func (d *Deployment) NewClient(ctx context.Context, process int) (workloads.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("etcd: new client: %w", err)
	}
	var eps []string
	node := ""
	if d.cfg.Sticky {
		i := process % len(d.nodes)
		if i < 0 {
			i += len(d.nodes)
		}
		node = d.nodes[i]
		eps = []string{d.endpoints[node]}
	} else {
		for _, n := range d.nodes {
			eps = append(eps, d.endpoints[n])
		}
	}
	cli, err := newClient(eps)
	if err != nil {
		return nil, fmt.Errorf("etcd: new client for process %d: %w", process, err)
	}
	return newRegisterClient(cli, d.cfg.Read, node), nil
}

// Describe returns the deployment's settings.
func (d *Deployment) Describe() []targets.Setting {
	version := d.version
	if version == "" {
		version = "unknown"
	}
	clients := "balanced over all members"
	if d.cfg.Sticky {
		clients = "sticky: process p uses member n(1 + p mod N)"
	}
	return []targets.Setting{
		{Name: "nodes", Value: fmt.Sprint(len(d.nodes))},
		{Name: "read", Value: d.cfg.Read.String()},
		{Name: "pre-vote", Value: fmt.Sprint(d.cfg.preVote())},
		{Name: "clients", Value: clients},
		{Name: "etcd version", Value: version},
		{Name: "etcd client", Value: clientVersion()},
		{Name: "server user", Value: fmt.Sprintf("uid %d (nobody)", d.uid)},
		{Name: "raft timing", Value: d.cfg.raftTiming()},
		{Name: "clock faults", Value: "unsupported (Go binary reads the vDSO)"},
		{Name: "seed", Value: fmt.Sprint(d.cfg.Seed)},
		{Name: "state dir", Value: d.lc.DescribeStateDir()},
		{Name: "server config", Value: d.cfg.ServerConfig.Summary()},
	}
}

// clientVersion names the go.etcd.io/etcd/client/v3 module in this build.
func clientVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "go.etcd.io/etcd/client/v3" {
				return "go.etcd.io/etcd/client/v3 " + m.Version
			}
		}
	}
	return "go.etcd.io/etcd/client/v3 (version not in build info)"
}

// Close stops every member and removes the nodes (Hosts.Close, bounded
// by cluster.CloseTimeout), and the state dir unless it
// is kept (Config.KeepData, or a StateDir that existed before). It is safe to call more than once.
func (d *Deployment) Close(ctx context.Context) error {
	d.closeOnce.Do(func() {
		d.closeLag()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cluster.CloseTimeout)
		defer cancel()
		if err := d.lc.Close(ctx); err != nil {
			d.closeErr = fmt.Errorf("etcd: close: %w", err)
		}
	})
	return d.closeErr
}

// NodeLogs maps each member to its log (targets.LogCollector).
func (d *Deployment) NodeLogs() map[string]string {
	out := make(map[string]string)
	for _, n := range d.nodes {
		out[n] = d.LogFile(n)
	}
	return out
}

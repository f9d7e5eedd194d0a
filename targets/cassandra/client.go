//go:build linux

package cassandra

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/chaoscheck/chaoscheck/workloads"
)

// Client is one process's CQL session. It implements
// workloads.RegisterClient, SetClient, CounterClient, RMWClient and
// NodeReporter.
//
// The driver never retries (no retry policy) and never speculates: a
// retried or duplicated request would turn an unknown outcome into a
// seemingly clean one. Every request carries the caller's context.
type Client struct {
	s      *gocql.Session
	read   gocql.Consistency
	write  gocql.Consistency
	serial gocql.SerialConsistency
	// lwtWrites: Write is Paxos too (see ClientOptions.LWTWrites).
	lwtWrites bool
	ns        string // ClientOptions.KeyPrefix
	sticky    string // node name when sticky
	byAddr    map[string]string

	mu   sync.Mutex
	last string
}

var (
	_ workloads.RegisterClient = (*Client)(nil)
	_ workloads.SetClient      = (*Client)(nil)
	_ workloads.CounterClient  = (*Client)(nil)
	_ workloads.RMWClient      = (*Client)(nil)
	_ workloads.NodeReporter   = (*Client)(nil)
)

// ClientOptions are the client-side settings of a Config: they can
// differ between tests sharing one deployment (see Shared).
type ClientOptions struct {
	ReadCL, WriteCL, SerialCL string
	Sticky, ClientTimestamps  bool
	// LWTWrites makes Write a lightweight transaction too (INSERT ... IF
	// NOT EXISTS, then UPDATE ... IF EXISTS when the row exists), so that
	// a register sees only Paxos writes. Default: a plain UPDATE.
	LWTWrites bool
	// KeyPrefix is prepended to every key the client stores: a namespace,
	// so that runs sharing one cluster never see each other's rows (not
	// even rows that hints resurrect after a TRUNCATE).
	KeyPrefix string
}

// clientOptions returns the deployment's own client settings.
func (c *Config) clientOptions() ClientOptions {
	return ClientOptions{ReadCL: c.ReadCL, WriteCL: c.WriteCL, SerialCL: c.SerialCL, Sticky: c.Sticky, ClientTimestamps: c.ClientTimestamps}
}

// validate checks and normalizes o, filling blanks from defaults.
func (o *ClientOptions) validate(rf int) error {
	c := Config{Nodes: rf, ReplicationFactor: rf, ReadCL: o.ReadCL, WriteCL: o.WriteCL, SerialCL: o.SerialCL, Regions: 1}
	c.defaults()
	if err := c.Validate(); err != nil {
		return err
	}
	o.ReadCL, o.WriteCL, o.SerialCL = c.ReadCL, c.WriteCL, c.SerialCL
	return nil
}

// NewCQLClient opens a session for process: to node process mod N when
// Config.Sticky, else to every node (token-aware, shuffled replicas, so
// any replica may coordinate). The session's creation is bounded by ctx
// and Config.ConnectTimeout.
func (d *Deployment) NewCQLClient(ctx context.Context, process int) (*Client, error) {
	return d.NewClientWith(ctx, process, d.cfg.clientOptions())
}

// NewClientWith is NewCQLClient with other client settings (e.g. a CL ONE
// reader next to QUORUM workers).
func (d *Deployment) NewClientWith(ctx context.Context, process int, o ClientOptions) (*Client, error) {
	if err := o.validate(d.cfg.ReplicationFactor); err != nil {
		return nil, err
	}
	rc, wc := consistencies[o.ReadCL], consistencies[o.WriteCL]
	serial := gocql.Serial
	if o.SerialCL == "LOCAL_SERIAL" {
		serial = gocql.LocalSerial
	}
	nodes := d.lc.Nodes()
	dc := ""
	if d.cfg.Regions > 1 {
		r := d.cfg.homeRegion(process)
		dc = dcName(r)
		nodes = d.cfg.regionNodes(nodes)[r]
		process /= d.cfg.Regions
	}
	var hosts []string
	sticky := ""
	if o.Sticky {
		sticky = nodes[((process%len(nodes))+len(nodes))%len(nodes)]
		hosts = []string{d.lc.Addr(sticky).String()}
	} else {
		hosts = d.contactPoints(nodes)
	}
	c := gocql.NewCluster(hosts...)
	// The protocol the driver would find (it tries 4 first): discovering
	// it dials a contact point of its own, one more wait on a node that
	// does not answer.
	c.ProtoVersion = 4
	c.Keyspace = Keyspace
	c.ConnectTimeout = d.cfg.ConnectTimeout
	c.Timeout = d.cfg.RequestTimeout
	c.Consistency = wc
	c.SerialConsistency = serial
	c.NumConns = 1
	c.RetryPolicy = nil // never retry: a retry would hide an info outcome
	c.DefaultTimestamp = o.ClientTimestamps
	c.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 1000, Interval: 500 * time.Millisecond}
	c.ReconnectInterval = time.Second // bring restarted nodes back quickly
	c.Logger = nopLogger{}
	if sticky != "" {
		c.HostFilter = gocql.WhiteListHostFilter(hosts[0])
		c.PoolConfig.HostSelectionPolicy = gocql.RoundRobinHostPolicy()
	} else if dc != "" {
		c.HostFilter = gocql.DataCentreHostFilter(dc)
		c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy(dc), gocql.ShuffleReplicas())
	} else {
		c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy(), gocql.ShuffleReplicas())
	}
	// The session is ready once one node's pool is: gocql otherwise waits
	// for every node's, so that a node that does not answer (a killed
	// container's address, where a killed local process's namespace
	// refuses at once) holds every new session for ConnectTimeout, as
	// long as the client's whole open budget (--op-timeout). The other
	// pools fill in the background; requests go to nodes whose pool is
	// up, and to the others once they are.
	c.PoolConfig.HostSelectionPolicy = gocql.SingleHostReadyPolicy(c.PoolConfig.HostSelectionPolicy)
	s, err := createSession(ctx, c)
	if err != nil {
		where := "any node"
		if sticky != "" {
			where = sticky + " (log " + d.logs[sticky] + ")"
		}
		return nil, fmt.Errorf("cassandra: session for process %d to %s: %w", process, where, err)
	}
	return &Client{s: s, read: rc, write: wc, serial: serial, lwtWrites: o.LWTWrites, ns: o.KeyPrefix, sticky: sticky, byAddr: d.byAddr}, nil
}

// contactPoints are the addresses a session of nodes is opened through:
// those whose server runs (the runtime's fact), or all of them when none
// does. gocql dials its contact points in a random order for its control
// connection, ConnectTimeout each until one answers, so a killed node
// among them would cost a third of the sessions opened during a kill
// their whole open budget; the session still learns every node of the
// ring (system.peers) and reaches the killed one once it is back.
func (d *Deployment) contactPoints(nodes []string) []string {
	var up, all []string
	for _, n := range nodes {
		a := d.lc.Addr(n).String()
		all = append(all, a)
		for _, p := range d.lc.Processes(n) {
			if p.Running() {
				up = append(up, a)
				break
			}
		}
	}
	if len(up) == 0 {
		return all
	}
	return up
}

// Close closes the session.
func (c *Client) Close() error {
	c.s.Close()
	return nil
}

// LastNode returns the node that coordinated the last request (the sticky
// node when the driver did not say).
func (c *Client) LastNode() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == "" {
		return c.sticky
	}
	return c.last
}

// ObserveQuery records the coordinator of each attempt (gocql.QueryObserver).
func (c *Client) ObserveQuery(_ context.Context, q gocql.ObservedQuery) {
	if q.Host == nil {
		return
	}
	name := c.byAddr[q.Host.ConnectAddress().String()]
	if name == "" {
		name = q.Host.ConnectAddress().String()
	}
	c.mu.Lock()
	c.last = name
	c.mu.Unlock()
}

func (c *Client) query(ctx context.Context, cl gocql.Consistency, stmt string, args ...any) *gocql.Query {
	c.mu.Lock()
	c.last = ""
	c.mu.Unlock()
	return c.s.Query(stmt, args...).WithContext(ctx).Consistency(cl).Observer(c).Idempotent(false)
}

// Read reads a register at the read consistency.
func (c *Client) Read(ctx context.Context, key string) (int64, bool, error) {
	var v int64
	err := c.query(ctx, c.read, "SELECT value FROM registers WHERE key = ?", c.ns+key).Scan(&v)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, readError(err)
	}
	return v, true, nil
}

// Write sets a register with a plain UPDATE at the write consistency, or,
// with ClientOptions.LWTWrites, with Paxos: INSERT ... IF NOT EXISTS,
// and when the row exists (rows are never deleted) UPDATE ... IF EXISTS.
// Each step is one linearizable LWT and the first has no effect when it is
// not applied, so the write takes effect exactly at the applied step.
func (c *Client) Write(ctx context.Context, key string, value int64) error {
	if !c.lwtWrites {
		return writeError(c.query(ctx, c.write, "UPDATE registers SET value = ? WHERE key = ?", value, c.ns+key).Exec(), false)
	}
	var k string
	var cur int64
	applied, err := c.query(ctx, c.write, "INSERT INTO registers (key, value) VALUES (?, ?) IF NOT EXISTS", c.ns+key, value).
		SerialConsistency(c.serial).ScanCAS(&k, &cur)
	if err != nil {
		return writeError(err, true)
	}
	if applied {
		return nil
	}
	applied, err = c.query(ctx, c.write, "UPDATE registers SET value = ? WHERE key = ? IF EXISTS", value, c.ns+key).
		SerialConsistency(c.serial).ScanCAS(&k, &cur)
	if err != nil {
		return writeError(err, true)
	}
	if !applied {
		return workloads.Definite(fmt.Errorf("LWT write of %s: row vanished between IF NOT EXISTS and IF EXISTS", key))
	}
	return nil
}

// CAS is a lightweight transaction: UPDATE ... IF value = old, Paxos at
// the serial consistency, committed at the write consistency. A missing
// row never matches (Cassandra evaluates the condition against null), so
// a CAS on an empty register is not applied, as the cas-register model
// wants.
func (c *Client) CAS(ctx context.Context, key string, old, new int64) (bool, error) {
	var cur int64
	applied, err := c.query(ctx, c.write, "UPDATE registers SET value = ? WHERE key = ? IF value = ?", new, c.ns+key, old).
		SerialConsistency(c.serial).ScanCAS(&cur)
	if err != nil {
		return false, writeError(err, true)
	}
	return applied, nil
}

// Add inserts one set element row.
func (c *Client) Add(ctx context.Context, key string, element int64) error {
	return writeError(c.query(ctx, c.write, "INSERT INTO sets (key, elem) VALUES (?, ?)", c.ns+key, element).Exec(), false)
}

// ReadSet reads a set's elements at the read consistency, sorted.
func (c *Client) ReadSet(ctx context.Context, key string) ([]int64, error) {
	iter := c.query(ctx, c.read, "SELECT elem FROM sets WHERE key = ?", c.ns+key).Iter()
	out := []int64{}
	var e int64
	for iter.Scan(&e) {
		out = append(out, e)
	}
	if err := iter.Close(); err != nil {
		return nil, readError(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Increment adds delta to a counter. Counter updates are not idempotent:
// a timed-out increment may have been applied (info), and it must never
// be retried.
func (c *Client) Increment(ctx context.Context, key string, delta int64) error {
	return writeError(c.query(ctx, c.write, "UPDATE counters SET value = value + ? WHERE key = ?", delta, c.ns+key).Exec(), false)
}

// ReadCounter reads a counter (0 when never incremented).
func (c *Client) ReadCounter(ctx context.Context, key string) (int64, error) {
	var v int64
	err := c.query(ctx, c.read, "SELECT value FROM counters WHERE key = ?", c.ns+key).Scan(&v)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, readError(err)
	}
	return v, nil
}

// ReadModifyWrite reads at the read consistency, then writes at the write
// consistency: two requests, not atomic (Cassandra has no multi-statement
// transactions in 5.0), so concurrent RMWs can lose updates.
func (c *Client) ReadModifyWrite(ctx context.Context, key string, next func(old int64, found bool) int64) (int64, bool, int64, error) {
	old, found, err := c.Read(ctx, key)
	if err != nil {
		// Nothing was written.
		return 0, false, 0, workloads.Definite(err)
	}
	n := next(old, found)
	if err := c.Write(ctx, key, n); err != nil {
		return old, found, n, err
	}
	return old, found, n, nil
}

// Error codes of requests the coordinator rejected before doing anything.
var rejectedCodes = map[int]string{
	gocql.ErrCodeProtocol:      "protocol error",
	gocql.ErrCodeCredentials:   "bad credentials",
	gocql.ErrCodeOverloaded:    "overloaded",
	gocql.ErrCodeBootstrapping: "bootstrapping",
	gocql.ErrCodeSyntax:        "syntax error",
	gocql.ErrCodeUnauthorized:  "unauthorized",
	gocql.ErrCodeInvalid:       "invalid request",
	gocql.ErrCodeConfig:        "configuration error",
	gocql.ErrCodeAlreadyExists: "already exists",
	gocql.ErrCodeUnprepared:    "unprepared",
}

// writeError maps a write's error to the workloads' rule: Definite when
// the write certainly had no effect, a plain (info) error otherwise.
//
//   - *gocql.RequestErrUnavailable on a plain write or counter increment:
//     the coordinator saw too few live replicas and sent nothing: Definite.
//     On an LWT it is info: Cassandra checks liveness again for the commit
//     phase, after a quorum may have accepted the proposal, which a later
//     Paxos round then completes.
//   - gocql.ErrNoConnections: no connection to any node, nothing sent:
//     Definite.
//   - Requests the coordinator rejected (syntax, invalid, overloaded,
//     bootstrapping...): Definite.
//   - Write timeouts (any write type, CAS included), CAS write unknown,
//     write failures, client timeouts, closed connections, anything else:
//     info.
func writeError(err error, lwt bool) error {
	if err == nil {
		return nil
	}
	var un *gocql.RequestErrUnavailable
	if errors.As(err, &un) {
		e := fmt.Errorf("unavailable: %s needs %d live replicas, %d alive: %w", un.Consistency, un.Required, un.Alive, err)
		if lwt {
			return fmt.Errorf("LWT outcome unknown: %w", e)
		}
		return workloads.Definite(e)
	}
	if errors.Is(err, gocql.ErrNoConnections) {
		return workloads.Definite(fmt.Errorf("not sent: %w", err))
	}
	var wt *gocql.RequestErrWriteTimeout
	if errors.As(err, &wt) {
		return fmt.Errorf("write timeout (%s write, %d of %d acks at %s): %w", wt.WriteType, wt.Received, wt.BlockFor, wt.Consistency, err)
	}
	var cu *gocql.RequestErrCASWriteUnknown
	if errors.As(err, &cu) {
		return fmt.Errorf("CAS write unknown: %w", err)
	}
	var re gocql.RequestError
	if errors.As(err, &re) {
		if what, ok := rejectedCodes[re.Code()]; ok {
			return workloads.Definite(fmt.Errorf("rejected (%s): %w", what, err))
		}
	}
	return err
}

// readError describes a failed read; any error of a read is recorded
// fail.
func readError(err error) error {
	var un *gocql.RequestErrUnavailable
	if errors.As(err, &un) {
		return fmt.Errorf("unavailable: %s needs %d live replicas, %d alive: %w", un.Consistency, un.Required, un.Alive, err)
	}
	var rt *gocql.RequestErrReadTimeout
	if errors.As(err, &rt) {
		return fmt.Errorf("read timeout (%d of %d responses at %s): %w", rt.Received, rt.BlockFor, rt.Consistency, err)
	}
	var wt *gocql.RequestErrWriteTimeout
	if errors.As(err, &wt) {
		// A SERIAL read runs Paxos and can time out in its write phase.
		return fmt.Errorf("read timeout in Paxos (%s write): %w", wt.WriteType, err)
	}
	return err
}

//go:build linux

package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/chaoscheck/chaoscheck/workloads"
)

// poolSize is the connection pool of a client per node: a worker has one
// operation in flight, so one connection is used at a time.
const poolSize = 2

// casScript sets KEYS[1] to ARGV[2] iff it holds ARGV[1]; it returns 1
// when it swapped. Redis runs a script atomically, and it writes at most
// once, after its only read, so an error reply means nothing was written.
const casScript = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0`

// ErrWaitShort is wrapped by the error of a write that WAIT could not
// confirm on enough replicas in time. The write was applied on the
// primary, so the error is not Definite: the operation is recorded info.
var ErrWaitShort = errors.New("WAIT: fewer replicas acknowledged the write than required")

// Classify maps the error of a write to the workloads error rule:
//
//   - nil stays nil (ok);
//   - an error reply from the server (CLUSTERDOWN, READONLY for a write
//     sent to a replica, MOVED and ASK, TRYAGAIN, LOADING, MASTERDOWN,
//     NOREPLICAS, OOM, a script error...) is Definite (fail): Redis
//     executes a command entirely or not at all, and replies with an
//     error only when it did not execute it (the CAS script writes only
//     as its last step);
//   - a failure to dial (connection refused, dial timeout), to get a
//     connection from the pool, or a closed client is Definite: nothing
//     was sent;
//   - anything else (a timeout or a connection lost after the request was
//     sent, ErrWaitShort) is returned as is: unknown (info).
//
// Reads do not use it: a failed read is recorded fail whatever its error.
func Classify(err error) error {
	if err == nil || workloads.IsDefinite(err) {
		return err
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) && !errors.Is(err, goredis.Nil) {
		return workloads.Definite(err)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return workloads.Definite(err)
	}
	if errors.Is(err, goredis.ErrPoolTimeout) || errors.Is(err, goredis.ErrPoolExhausted) || errors.Is(err, goredis.ErrClosed) {
		return workloads.Definite(err)
	}
	return err
}

// Client is one process's connection to the deployment. It implements
// workloads.SetClient (SADD / SMEMBERS), RegisterClient (GET / SET, and
// CAS by EVAL of a Lua script), CounterClient (INCRBY / GET) and
// NodeReporter. It is used by one goroutine at a time.
//
// Routing: in Cluster mode every command goes to the master of its key's
// slot, looked up in go-redis's cached slot map (ClusterClient.
// MasterForKey), and is sent on that master's node client; in
// Replication mode it goes to the current primary. LastNode is the node
// the command was sent to. Commands are sent on the node clients rather
// than through ClusterClient's own routing because ClusterClient resends
// a command after a lost connection or a timeout (its redirect loop
// retries such errors regardless of MaxRetries), which would hide unknown
// outcomes and apply a write twice; a MOVED or ASK reply (the command was
// not executed) instead fails the operation, Definite, and reloads the
// slot map, so the next operation goes to the right node. No request is
// ever retried (MaxRetries -1).
//
// WAIT: with Config.Wait = n > 0, every write is sent in a pipeline
// followed by WAIT n <WaitTimeout> on the same connection (WAIT only
// counts the writes of its own connection). When fewer than n replicas
// acknowledged in time, the write has still been applied on the primary
// and may be lost by a later failover, or may survive: the error wraps
// ErrWaitShort and is not Definite (info). WAIT does not make a write
// durable or the replication synchronous: it only reports how many
// replicas had received the write when it returned.
type Client struct {
	d     *Deployment
	cc    *goredis.ClusterClient     // Cluster mode
	nodes map[string]*goredis.Client // Replication mode, by node
	last  string
	rng   *rand.Rand        // the choice of replica (ReadFrom Replica)
	extra map[string]string // why the last read went to last (LastExtra)
}

var (
	_ workloads.RegisterClient = (*Client)(nil)
	_ workloads.SetClient      = (*Client)(nil)
	_ workloads.CounterClient  = (*Client)(nil)
	_ workloads.NodeReporter   = (*Client)(nil)
)

// readTimeout bounds one command's reply independently of the context: it
// must outlast WAIT.
func (d *Deployment) readTimeout() time.Duration {
	return 2*time.Second + d.cfg.WaitTimeout
}

func newClient(d *Deployment, process int) *Client {
	c := &Client{d: d, nodes: map[string]*goredis.Client{}, rng: rand.New(rand.NewPCG(uint64(d.cfg.Seed), uint64(process)))}
	if d.cfg.Mode == Cluster {
		var addrs []string
		for _, n := range d.srv.lc.Nodes() {
			addrs = append(addrs, d.srv.addr(n))
		}
		c.cc = goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs:                    addrs,
			Protocol:                 2,
			DisableIdentity:          true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
			MaxRetries:               -1,
			MaxRedirects:             -1,
			DialTimeout:              DialTimeout,
			ReadTimeout:              d.readTimeout(),
			WriteTimeout:             d.readTimeout(),
			ContextTimeoutEnabled:    true,
			PoolSize:                 poolSize,
			PoolTimeout:              DialTimeout,
		})
	}
	return c
}

// LastNode returns the node the last request was sent to.
func (c *Client) LastNode() string { return c.last }

// Close closes every connection.
func (c *Client) Close() error {
	var errs []error
	if c.cc != nil {
		if err := c.cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("redis: close cluster client: %w", err))
		}
	}
	for n, nc := range c.nodes {
		if err := nc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("redis: close client of %s: %w", n, err))
		}
		delete(c.nodes, n)
	}
	return errors.Join(errs...)
}

// route returns the client of the node serving key and records the node.
// A failure here is Definite: nothing was sent.
func (c *Client) route(ctx context.Context, key string) (*goredis.Client, string, error) {
	c.extra = nil
	if c.cc != nil {
		nc, err := c.cc.MasterForKey(ctx, key)
		if err != nil {
			c.last = ""
			return nil, "", workloads.Definite(fmt.Errorf("redis: slot map for %q: %w", key, err))
		}
		node := c.d.srv.nodeOfAddr(nc.Options().Addr)
		c.last = node
		return nc, node, nil
	}
	node := c.d.repl.Primary()
	c.last = node
	return c.nodeClient(node), node, nil
}

// redirected reloads the slot map after a MOVED or ASK reply.
func (c *Client) redirected(ctx context.Context, err error) {
	if c.cc == nil {
		return
	}
	if _, ok := goredis.IsMovedError(err); ok {
		c.cc.ReloadState(ctx)
		return
	}
	if _, ok := goredis.IsAskError(err); ok {
		c.cc.ReloadState(ctx)
		return
	}
	if goredis.IsClusterDownError(err) || goredis.IsReadOnlyError(err) {
		c.cc.ReloadState(ctx)
	}
}

// write sends the write cmd builds on the node serving key, followed by
// WAIT on the same connection when Config.Wait > 0. It returns the
// write's command for its reply.
//
// build runs the command on the Cmdable it is given: the node's client
// itself without WAIT (one command, no pipeline to allocate), a pipeline
// with it.
func (c *Client) write(ctx context.Context, what, key string, build func(p goredis.Cmdable) goredis.Cmder) (goredis.Cmder, error) {
	if err := ctx.Err(); err != nil {
		return nil, workloads.Definite(fmt.Errorf("redis: %s %s: %w", what, key, err))
	}
	nc, node, err := c.route(ctx, key)
	if err != nil {
		return nil, err
	}
	if c.d.cfg.Wait <= 0 {
		cmd := build(nc)
		if err := cmd.Err(); err != nil && !errors.Is(err, goredis.Nil) {
			c.redirected(ctx, err)
			return nil, Classify(fmt.Errorf("redis: %s %s on %s: %w", what, key, node, err))
		}
		return cmd, nil
	}
	var cmd goredis.Cmder
	var wait *goredis.IntCmd
	_, perr := nc.Pipelined(ctx, func(p goredis.Pipeliner) error {
		cmd = build(p)
		if c.d.cfg.Wait > 0 {
			wait = goredis.NewIntCmd(ctx, "wait", c.d.cfg.Wait, c.d.cfg.WaitTimeout.Milliseconds())
			_ = p.Process(ctx, wait)
		}
		return nil
	})
	if cmd == nil {
		return nil, Classify(fmt.Errorf("redis: %s %s on %s: %w", what, key, node, perr))
	}
	if err := cmd.Err(); err != nil && !errors.Is(err, goredis.Nil) {
		c.redirected(ctx, err)
		return nil, Classify(fmt.Errorf("redis: %s %s on %s: %w", what, key, node, err))
	}
	if wait != nil {
		n, err := wait.Result()
		if err != nil {
			// The write was applied; whether it replicated is unknown.
			return cmd, fmt.Errorf("redis: %s %s on %s: applied, but WAIT failed: %w", what, key, node, err)
		}
		if n < int64(c.d.cfg.Wait) {
			return cmd, fmt.Errorf("redis: %s %s on %s: applied, %d of %d replicas within %v: %w", what, key, node, n, c.d.cfg.Wait, c.d.cfg.WaitTimeout, ErrWaitShort)
		}
	}
	return cmd, nil
}

// read runs a read on the node serving key; its errors are returned as is
// (a failed read is recorded fail).
func (c *Client) read(ctx context.Context, what, key string, f func(nc *goredis.Client) error) error {
	nc, node, err := c.readRoute(ctx, key)
	if err != nil {
		return err
	}
	if err := f(nc); err != nil {
		c.redirected(ctx, err)
		return fmt.Errorf("redis: %s %s on %s: %w", what, key, node, err)
	}
	return nil
}

// Add adds element to the set (SADD). An element already present is not
// an error: elements are unique per add, so only this very add can have
// put it there.
func (c *Client) Add(ctx context.Context, key string, element int64) error {
	_, err := c.write(ctx, "SADD", key, func(p goredis.Cmdable) goredis.Cmder {
		return p.SAdd(ctx, key, element)
	})
	return err
}

// ReadSet returns the set's elements in ascending order (SMEMBERS).
func (c *Client) ReadSet(ctx context.Context, key string) ([]int64, error) {
	var ms []string
	err := c.read(ctx, "SMEMBERS", key, func(nc *goredis.Client) error {
		var err error
		ms, err = nc.SMembers(ctx, key).Result()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]int64, 0, len(ms))
	for _, m := range ms {
		v, err := strconv.ParseInt(m, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: SMEMBERS %s: element %q is not an integer: %w", key, m, err)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

// Read returns the register's value (GET); found=false when the key does
// not exist.
func (c *Client) Read(ctx context.Context, key string) (int64, bool, error) {
	var s string
	found := true
	err := c.read(ctx, "GET", key, func(nc *goredis.Client) error {
		var err error
		s, err = nc.Get(ctx, key).Result()
		if errors.Is(err, goredis.Nil) {
			found = false
			return nil
		}
		return err
	})
	if err != nil || !found {
		return 0, false, err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("redis: GET %s: %q is not an integer: %w", key, s, err)
	}
	return v, true, nil
}

// Write sets the register (SET).
func (c *Client) Write(ctx context.Context, key string, value int64) error {
	_, err := c.write(ctx, "SET", key, func(p goredis.Cmdable) goredis.Cmder {
		return p.Set(ctx, key, value, 0)
	})
	return err
}

// CAS sets key to new iff it holds old, by EVAL of casScript (atomic on
// the master); swapped says whether it wrote. With Wait > 0 the WAIT
// follows the EVAL whether or not it swapped: a failed compare with a
// short WAIT is still reported as a failed compare (nothing was written).
func (c *Client) CAS(ctx context.Context, key string, old, new int64) (bool, error) {
	var ev *goredis.Cmd
	_, err := c.write(ctx, "CAS", key, func(p goredis.Cmdable) goredis.Cmder {
		ev = p.Eval(ctx, casScript, []string{key}, strconv.FormatInt(old, 10), strconv.FormatInt(new, 10))
		return ev
	})
	if ev == nil || ev.Err() != nil {
		return false, err
	}
	n, ierr := ev.Int64()
	if ierr != nil {
		return false, fmt.Errorf("redis: CAS %s: script reply: %w", key, ierr)
	}
	if n == 0 {
		return false, nil
	}
	return true, err
}

// Increment adds delta to the counter (INCRBY).
func (c *Client) Increment(ctx context.Context, key string, delta int64) error {
	_, err := c.write(ctx, "INCRBY", key, func(p goredis.Cmdable) goredis.Cmder {
		return p.IncrBy(ctx, key, delta)
	})
	return err
}

// ReadCounter returns the counter (0 when never incremented).
func (c *Client) ReadCounter(ctx context.Context, key string) (int64, error) {
	v, _, err := c.Read(ctx, key)
	return v, err
}

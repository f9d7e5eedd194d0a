package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// Client is one logical process's connection. Each request goes over the
// simulated network to a coordinator node (see CoordinatorMode), which
// runs it against the replicas and answers over the network.
//
// Errors follow workloads.Client: Definite when the request certainly had
// no effect (the coordinator was down so nothing was sent, or it saw too
// few replicas and wrote nothing); otherwise, for a request that was sent,
// the outcome is unknown.
type Client struct {
	c       *Cluster
	process int

	mu     sync.Mutex
	rng    *rand.Rand // random coordinators; guarded by mu
	last   string
	closed bool
}

var (
	_ workloads.RegisterClient = (*Client)(nil)
	_ workloads.SetClient      = (*Client)(nil)
	_ workloads.CounterClient  = (*Client)(nil)
	_ workloads.RMWClient      = (*Client)(nil)
	_ workloads.NodeReporter   = (*Client)(nil)
)

func newClient(c *Cluster, process int) *Client {
	return &Client{
		c:       c,
		process: process,
		rng:     rand.New(rand.NewPCG(uint64(c.cfg.Seed), uint64(process)+1)),
	}
}

// result is a coordinator's answer to a request.
type result struct {
	rec     *record // reads
	read    cell    // read-modify-writes: what was read
	wrote   bool    // read-modify-writes: whether it wrote
	written int64
	err     error
}

// coordinatorFor picks the node for the next request and remembers it.
func (cl *Client) coordinatorFor() (*node, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.closed {
		return nil, ErrClosed
	}
	nodes := cl.c.nodes
	p := cl.process
	if k := cl.c.cfg.Regions; k > 1 {
		// Dealt to regions round-robin; a coordinator of its own region.
		nodes = cl.c.regionNodes()[(p%k+k)%k]
		p /= k
	}
	i := (p%len(nodes) + len(nodes)) % len(nodes)
	if cl.c.cfg.Coordinator == Random {
		i = cl.rng.IntN(len(nodes))
	}
	cl.last = nodes[i].name
	return nodes[i], nil
}

// call sends a request to the coordinator, which runs op, and waits for
// the answer, at most as long as ctx allows and the client timeout.
func (cl *Client) call(ctx context.Context, op string, run func(co coordinator) result) (result, error) {
	return cl.callFor(ctx, op, cl.c.cfg.clientTimeout(), run)
}

// callFor is call with the client timeout d.
func (cl *Client) callFor(ctx context.Context, op string, d time.Duration, run func(co coordinator) result) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, workloads.Definite(err)
	}
	select {
	case <-cl.c.net.done:
		return result{}, workloads.Definite(fmt.Errorf("%s: %w: the deployment is closed", op, ErrClosed))
	default:
	}
	n, err := cl.coordinatorFor()
	if err != nil {
		return result{}, workloads.Definite(fmt.Errorf("%s: %w", op, err))
	}
	if !n.isUp() {
		return result{}, workloads.Definite(fmt.Errorf("%w: %s: coordinator %s is down", ErrConnectionRefused, op, n.name))
	}

	answer := make(chan result, 1)
	cl.c.send(sender{}, n.name, 0, func(life uint64) {
		res := run(coordinator{c: cl.c, n: n, life: life})
		if errors.Is(res.err, errCoordinatorDied) {
			return // a dead process answers nothing
		}
		cl.c.send(sender{n, life}, cluster.Controller, 0, func(uint64) {
			select {
			case answer <- res:
			default:
			}
		})
	})

	timeout := time.NewTimer(d)
	defer timeout.Stop()
	select {
	case res := <-answer:
		return res, res.err
	case <-timeout.C:
		return result{}, fmt.Errorf("%w: %s: no answer from coordinator %s within %v", ErrTimeout, op, n.name, d)
	case <-ctx.Done():
		return result{}, fmt.Errorf("sim: %s: gave up waiting for coordinator %s: %w", op, n.name, ctx.Err())
	case <-cl.c.net.done:
		return result{}, fmt.Errorf("%s: %w while waiting for coordinator %s", op, ErrClosed, n.name)
	}
}

// Read reads a register at R.
func (cl *Client) Read(ctx context.Context, key string) (int64, bool, error) {
	res, err := cl.call(ctx, "read", func(co coordinator) result {
		rec, err := co.read("read", key)
		return result{rec: rec, err: err}
	})
	if err != nil {
		return 0, false, err
	}
	return res.rec.reg.value, res.rec.reg.ok, nil
}

// Write writes a register at W, stamped with the coordinator's clock.
func (cl *Client) Write(ctx context.Context, key string, value int64) error {
	_, err := cl.call(ctx, "write", func(co coordinator) result {
		return result{err: co.write("write", key, registerWrite(value))}
	})
	return err
}

// CAS reads key at R on the coordinator and, if it holds old, writes new
// at W. It is not atomic and not linearizable: see the package doc.
func (cl *Client) CAS(ctx context.Context, key string, old, new int64) (bool, error) {
	res, err := cl.call(ctx, "cas", func(co coordinator) result {
		res, err := co.readModifyWrite("cas", key, func(cur int64, found bool) (int64, bool) {
			return new, found && cur == old
		})
		res.err = err
		return res
	})
	if err != nil {
		return false, err
	}
	return res.wrote, nil
}

// ReadModifyWrite reads key at R on the coordinator and writes next(read)
// at W, with no isolation: two of them may read the same value, and one
// update is lost.
func (cl *Client) ReadModifyWrite(ctx context.Context, key string, next func(old int64, found bool) int64) (int64, bool, int64, error) {
	res, err := cl.call(ctx, "rmw", func(co coordinator) result {
		res, err := co.readModifyWrite("rmw", key, func(cur int64, found bool) (int64, bool) {
			return next(cur, found), true
		})
		res.err = err
		return res
	})
	if err != nil {
		return 0, false, 0, err
	}
	return res.read.value, res.read.ok, res.written, nil
}

// Add adds element to the set key at W.
func (cl *Client) Add(ctx context.Context, key string, element int64) error {
	_, err := cl.call(ctx, "add", func(co coordinator) result {
		if cl.c.cfg.SetMode == SetLWW {
			return result{err: co.lwwSetAdd(key, element)}
		}
		return result{err: co.write("add", key, setAdd(element))}
	})
	return err
}

// ReadSet reads the set key at R: the union of the answering replicas'
// elements, in ascending order.
func (cl *Client) ReadSet(ctx context.Context, key string) ([]int64, error) {
	res, err := cl.call(ctx, "read-set", func(co coordinator) result {
		rec, err := co.read("read-set", key)
		return result{rec: rec, err: err}
	})
	if err != nil {
		return nil, err
	}
	if cl.c.cfg.SetMode == SetLWW {
		return append([]int64{}, res.rec.lset.elems...), nil
	}
	if els := res.rec.elements(); els != nil {
		return els, nil
	}
	return []int64{}, nil
}

// Increment adds delta to the counter key at W, in the coordinator's shard.
func (cl *Client) Increment(ctx context.Context, key string, delta int64) error {
	_, err := cl.call(ctx, "increment", func(co coordinator) result {
		return result{err: co.write("increment", key, counterAdd(co.n.name, delta))}
	})
	return err
}

// ReadCounter reads the counter key at R: the sum of its shards, each the
// newest version among the answering replicas.
func (cl *Client) ReadCounter(ctx context.Context, key string) (int64, error) {
	res, err := cl.call(ctx, "read-counter", func(co coordinator) result {
		rec, err := co.read("read-counter", key)
		return result{rec: rec, err: err}
	})
	if err != nil {
		return 0, err
	}
	return res.rec.counter(), nil
}

// LastNode returns the coordinator of the last request, or "" before the
// first.
func (cl *Client) LastNode() string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.last
}

// Close closes the client; requests after Close fail with ErrClosed.
func (cl *Client) Close() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.closed = true
	return nil
}

package sim

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/workloads"
)

// Errors of the simulated cluster. They are wrapped with details, and with
// workloads.Definite when the operation certainly had no effect; test them
// with errors.Is.
var (
	// ErrUnavailable: the coordinator saw fewer live replicas than the
	// consistency level needs, and did nothing. Always Definite.
	ErrUnavailable = errors.New("sim: unavailable")
	// ErrTimeout: an answer did not come in time. For a write the outcome
	// is unknown: some replicas may have applied it, and more may later.
	ErrTimeout = errors.New("sim: timed out")
	// ErrConnectionRefused: the client's coordinator is down, so the
	// request was never sent. Always Definite.
	ErrConnectionRefused = errors.New("sim: connection refused")
	// ErrClosed: the client or the deployment is closed.
	ErrClosed = errors.New("sim: closed")
	// errCoordinatorDied: the coordinator crashed mid-request. Nobody
	// hears this error: the crashed node's answer is dropped.
	errCoordinatorDied = errors.New("sim: coordinator died")
)

// coordinator is a node serving one client request, in the life it
// received it. Every node is a replica of every key, so the coordinator is
// always one of the replicas, answering for itself without the network.
type coordinator struct {
	c    *Cluster
	n    *node
	life uint64
}

func (co coordinator) sender() sender { return sender{co.n, co.life} }

// replicasUp returns the replicas the coordinator believes are up, in ring
// order starting with itself. Its failure detector is perfect and instant
// for crashes and partitions (a replica is up when it is running and its
// messages reach the coordinator) but cannot see pauses: a paused process
// looks alive, so requests to it time out instead of failing fast.
func (co coordinator) replicasUp() []*node {
	up := []*node{co.n}
	for i := 1; i < len(co.c.nodes); i++ {
		p := co.c.nodes[(co.n.index+i)%len(co.c.nodes)]
		if co.c.seesUp(co.n, p) {
			up = append(up, p)
		}
	}
	return up
}

// unavailable builds the Definite error of a request that needs more
// replicas than the coordinator sees.
func (co coordinator) unavailable(op, needs string, up []*node) error {
	names := make([]string, len(up))
	for i, p := range up {
		names[i] = p.name
	}
	return workloads.Definite(fmt.Errorf("%w: %s needs %s replicas, coordinator %s sees %d of %d up (%s)",
		ErrUnavailable, op, needs, co.n.name, len(up), len(co.c.nodes), strings.Join(names, ",")))
}

// home is the coordinator's region.
func (co coordinator) home() int { return co.c.cfg.regionOf(co.n.index) }

// write applies, on the coordinator, the delta mk builds from its own
// record and clock, sends it to every other replica and waits for W
// acknowledgements (its own included).
//
// Replication is synchronous to the coordinator and the next W-1 replicas
// it sees up in ring order: they get the write at once. It is
// asynchronous to the others: they get it ReplicationLag later, or, if the
// coordinator then sees them down, never (or as a hint, with hinted
// handoff). Acks from any replica count, so a slow synchronous replica can
// be replaced by an asynchronous one that arrives before RequestTimeout.
//
// It returns a Definite ErrUnavailable when it sees fewer than W replicas
// up (nothing was written), and ErrTimeout, which is not Definite, when
// fewer than W replicas acknowledged in time.
func (co coordinator) write(op, key string, mk func(local *record, now int64) *record) error {
	cfg := co.c.cfg
	nd := co.c.needFor(cfg.WriteCL, cfg.W, co.home())
	up := co.replicasUp()
	sync, ok := co.c.pick(nd, up)
	if !ok {
		return co.unavailable(op, nd.describe("W"), up)
	}
	delta, ok := co.n.update(co.life, key, mk)
	if !ok {
		return errCoordinatorDied
	}
	applied := time.Now()
	for _, p := range co.c.nodes {
		if p != co.n {
			p.owe(key, delta, applied)
		}
	}
	acks := make(chan *node, len(co.c.nodes))
	synchronous := make(map[*node]bool, len(sync))
	for _, p := range sync[1:] {
		synchronous[p] = true
		co.replicate(p, key, delta, acks)
	}
	for _, p := range co.c.nodes {
		if p == co.n || synchronous[p] {
			continue
		}
		co.c.net.after(cfg.ReplicationLag, func() {
			if co.c.seesUp(co.n, p) {
				co.replicate(p, key, delta, acks)
			} else if cfg.HintedHandoff {
				co.n.addHint(co.life, hint{target: p.name, key: key, delta: delta})
			}
		})
	}

	acked := []*node{co.n}
	timeout := time.NewTimer(cfg.RequestTimeout)
	defer timeout.Stop()
	for !co.c.satisfied(nd, acked) {
		select {
		case p := <-acks:
			acked = append(acked, p)
		case <-timeout.C:
			return fmt.Errorf("%w: %s: coordinator %s got %d acks, short of %s, within %v; the write may still be applied",
				ErrTimeout, op, co.n.name, len(acked), nd.describe("W"), cfg.RequestTimeout)
		case <-co.c.net.done:
			return ErrClosed
		}
	}
	return nil
}

// replicate sends delta to replica p, which acknowledges on acks (when
// nobody waits any more, the ack is dropped).
func (co coordinator) replicate(p *node, key string, delta *record, acks chan<- *node) {
	co.c.send(co.sender(), p.name, 0, func(life uint64) {
		if !p.apply(life, key, delta) {
			return
		}
		co.c.send(sender{p, life}, co.n.name, 0, func(uint64) {
			select {
			case acks <- p:
			default:
			}
		})
	})
}

// answer is one replica's reply to a read.
type answer struct {
	from *node
	rec  *record
}

// read asks every replica it sees up for key, waits for R answers (its own
// included, which is immediate) and returns the merge of those answers:
// for a register, the value with the highest timestamp. With ReadRepair it
// then sends that merge to the answering replicas that were behind,
// without waiting for them.
func (co coordinator) read(op, key string) (*record, error) {
	cfg := co.c.cfg
	nd := co.c.needFor(cfg.ReadCL, cfg.R, co.home())
	up := co.replicasUp()
	if _, ok := co.c.pick(nd, up); !ok {
		return nil, co.unavailable(op, nd.describe("R"), up)
	}
	local, ok := co.n.snapshot(co.life, key)
	if !ok {
		return nil, errCoordinatorDied
	}
	answers := []answer{{co.n, local}}
	replies := make(chan answer, len(co.c.nodes))
	for _, p := range up[1:] {
		co.c.send(co.sender(), p.name, 0, func(life uint64) {
			rec, ok := p.snapshot(life, key)
			if !ok {
				return
			}
			co.c.send(sender{p, life}, co.n.name, 0, func(uint64) {
				select {
				case replies <- answer{p, rec}:
				default:
				}
			})
		})
	}

	timeout := time.NewTimer(cfg.RequestTimeout)
	defer timeout.Stop()
	from := []*node{co.n}
	for !co.c.satisfied(nd, from) {
		select {
		case a := <-replies:
			answers = append(answers, a)
			from = append(from, a.from)
		case <-timeout.C:
			return nil, fmt.Errorf("%w: %s: coordinator %s got %d answers, short of %s, within %v",
				ErrTimeout, op, co.n.name, len(answers), nd.describe("R"), cfg.RequestTimeout)
		case <-co.c.net.done:
			return nil, ErrClosed
		}
	}

	merged := &record{}
	for _, a := range answers {
		merged.merge(a.rec)
	}
	if cfg.ReadRepair {
		for _, a := range answers {
			if a.rec.covers(merged) {
				continue
			}
			if a.from == co.n {
				co.n.apply(co.life, key, merged)
			} else {
				co.replicate(a.from, key, merged, nil)
			}
		}
	}
	return merged, nil
}

// readModifyWrite reads key at R, asks decide for the value to write and,
// if decide says so, writes it at W with the coordinator's clock. Nothing
// makes the two steps atomic: another write may land in between, and the
// write may even lose to the value it read if the coordinator's clock is
// behind. It is how a naive client does CAS on an eventually consistent
// store, and it is not linearizable.
//
// An error in the read step is Definite (nothing was written); in the
// write step it is the write's error.
func (co coordinator) readModifyWrite(op, key string, decide func(old int64, found bool) (int64, bool)) (result, error) {
	rec, err := co.read(op, key)
	if err != nil {
		return result{}, workloads.Definite(fmt.Errorf("%s: read step, nothing written: %w", op, err))
	}
	res := result{read: rec.reg}
	next, ok := decide(rec.reg.value, rec.reg.ok)
	if !ok {
		return res, nil
	}
	res.wrote, res.written = true, next
	return res, co.write(op, key, registerWrite(next))
}

// registerWrite is the delta of a register write stamped with the
// coordinator's clock.
func registerWrite(v int64) func(*record, int64) *record {
	return func(_ *record, now int64) *record {
		return &record{reg: cell{ts: now, value: v, ok: true}}
	}
}

// lwwSetAdd reads the whole set at R and writes it back with e added, at
// W, stamped with the coordinator's clock: two steps, not atomic, and the
// write loses to any write with a later timestamp.
func (co coordinator) lwwSetAdd(key string, e int64) error {
	rec, err := co.read("add", key)
	if err != nil {
		return workloads.Definite(fmt.Errorf("add: read step, nothing written: %w", err))
	}
	elems := rec.lset.elems
	if _, found := slices.BinarySearch(elems, e); !found {
		elems = slices.Insert(slices.Clone(elems), sort.Search(len(elems), func(i int) bool { return elems[i] >= e }), e)
	}
	return co.write("add", key, func(_ *record, now int64) *record {
		return &record{lset: lwwSet{ts: now, elems: elems, ok: true}}
	})
}

// setAdd is the delta adding e to a set.
func setAdd(e int64) func(*record, int64) *record {
	return func(*record, int64) *record {
		return &record{set: map[int64]struct{}{e: {}}}
	}
}

// counterAdd is the delta of an increment coordinated by node id: its own
// shard, read from its local replica, plus delta, at the next version.
func counterAdd(id string, delta int64) func(*record, int64) *record {
	return func(local *record, _ int64) *record {
		s := local.shards[id]
		return &record{shards: map[string]shard{id: {version: s.version + 1, value: s.value + delta}}}
	}
}

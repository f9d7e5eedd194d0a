//go:build linux

package redis

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/readpolicy"
)

var _ targets.LagSampler = (*Deployment)(nil)

// lagSampler is the state of SampleLag: one connection per node of its
// own (never a client's) and each master's offsets over the last rounds.
type lagSampler struct {
	mu    sync.Mutex
	conns map[string]*goredis.Client
	rings map[string]*readpolicy.Ring // by master
	// clusterGroups is Cluster mode's last known masters and replicas.
	clusterGroups [][]string
}

// groups are the masters and their replicas: Replication mode, the
// current primary and every other node; Cluster mode, each master with
// replicas in CLUSTER SLOTS, asked each round of the first node that
// answers (the sampler's connections), the last answer when none does
// (replicas attach after the cluster is created, and fail over).
func (d *Deployment) groups(ctx context.Context, s *lagSampler) [][]string {
	if d.repl != nil {
		p := d.repl.Primary()
		g := []string{p}
		for _, n := range d.repl.Nodes() {
			if n != p {
				g = append(g, n)
			}
		}
		return [][]string{g}
	}
	if d.cfg.ReplicasPerMaster == 0 {
		return nil
	}
	for _, n := range d.srv.lc.Nodes() {
		slots, err := s.conn(d, n).ClusterSlots(ctx).Result()
		if err != nil {
			continue
		}
		of := map[string][]string{}
		for _, sl := range slots {
			if len(sl.Nodes) == 0 {
				continue
			}
			m := d.srv.nodeOfAddr(sl.Nodes[0].Addr)
			for _, r := range sl.Nodes[1:] {
				if rn := d.srv.nodeOfAddr(r.Addr); rn != "" && !slices.Contains(of[m], rn) {
					of[m] = append(of[m], rn)
				}
			}
		}
		s.clusterGroups = s.clusterGroups[:0]
		for _, m := range slices.Sorted(maps.Keys(of)) {
			s.clusterGroups = append(s.clusterGroups, append([]string{m}, of[m]...))
		}
		break
	}
	return s.clusterGroups
}

// SampleLag samples every replica's lag (targets.LagSampler). Per master
// (Replication mode: the current primary, so a failover is followed; Cluster
// mode: each master with replicas), one round is INFO replication on the
// master (its master_repl_offset, and which replicas it has online),
// then, in parallel, INFO replication on each of its replicas (its own
// slave_repl_offset; asked a second time when it is short of the
// master's offset, which on a fast link it has in flight):
//
//   - Bytes: the master's offset minus the replica's own, at least 0
//     (the replica is asked after the master, so it may be ahead of the
//     offset the master gave);
//   - LagNS (Derived): from the master's offsets of the last rounds, the
//     replica's offset was the master's at time t, so the replica has
//     everything the master had then: LagNS is the time since the latest
//     round whose offset the replica has reached, stamped when the master
//     was asked (an upper bound; when the replica has this round's offset,
//     the few hundred microseconds between the two questions); nil when
//     the replica is behind every round held (readpolicy.RingSize).
//
// Why the replicas are asked too, not the master alone: the master knows
// a replica's offset only from the replica's REPLCONF ACK, sent once a
// second, so the master's view is up to a second old (measured with
// Redis 7.0 on loopback: the offset it lists moves in steps of one
// second under a steady write load), far too coarse for a bound of
// milliseconds. A round is 1 + replicas small INFO commands.
//
// A replica the master does not list as online (disconnected, syncing),
// that does not answer (killed, paused: bounded by ctx), or that is not a
// replica any more gets a Sample with Err. A master that does not answer
// fails its replicas' samples (Err), and the round when it is the only
// master.
func (d *Deployment) SampleLag(ctx context.Context) ([]lag.Sample, error) {
	s := &d.lag
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[string]*goredis.Client{}
		s.rings = map[string]*readpolicy.Ring{}
	}
	groups := d.groups(ctx, s)
	var out []lag.Sample
	var errs []error
	var at time.Time
	for _, g := range groups {
		master, replicas := g[0], g[1:]
		t0 := time.Now()
		if at.IsZero() {
			at = t0
		}
		in, err := s.info(ctx, d, master)
		if err != nil {
			errs = append(errs, err)
			for _, r := range replicas {
				out = append(out, lag.Sample{Node: r, Of: master, Err: "master " + master + ": " + err.Error()})
			}
			continue
		}
		if in["role"] != "master" {
			err := fmt.Errorf("%s is not a master (role %s)", master, in["role"])
			errs = append(errs, err)
			for _, r := range replicas {
				out = append(out, lag.Sample{Node: r, Of: master, Err: err.Error()})
			}
			continue
		}
		moff, err := strconv.ParseInt(in["master_repl_offset"], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: %s master_repl_offset %q: %w", master, in["master_repl_offset"], err)
		}
		ring := s.rings[master]
		if ring == nil {
			ring = &readpolicy.Ring{}
			s.rings[master] = ring
		}
		ring.Add(t0, moff)
		online := d.onlineReplicas(in)
		samples := make([]lag.Sample, len(replicas))
		var wg sync.WaitGroup
		for i, r := range replicas {
			samples[i] = lag.Sample{Node: r, Of: master}
			if !online[r] {
				samples[i].Err = fmt.Sprintf("not an online replica of %s", master)
				continue
			}
			c := s.conn(d, r)
			wg.Go(func() {
				// A replica a few bytes short of the master's offset has
				// them in flight: asked once more, it usually has them, and
				// the bound is then this round's, not the previous one's.
				var off int64
				var answered time.Time
				for try := 0; try < 2 && (try == 0 || off < moff); try++ {
					txt, err := c.Info(ctx, "replication").Result()
					answered = time.Now()
					if err != nil {
						samples[i].Err = fmt.Sprintf("INFO replication on %s: %v", r, err)
						return
					}
					ri := parseInfo(txt)
					if ri["role"] != "slave" {
						samples[i].Err = fmt.Sprintf("not a replica (role %s)", ri["role"])
						return
					}
					if off, err = strconv.ParseInt(ri["slave_repl_offset"], 10, 64); err != nil {
						samples[i].Err = fmt.Sprintf("slave_repl_offset %q: %v", ri["slave_repl_offset"], err)
						return
					}
				}
				samples[i].Bytes = lag.Int64(max(0, moff-off))
				if _, upper, ok := ring.Behind(off, answered); ok {
					samples[i].LagNS, samples[i].Derived = lag.Int64(upper.Nanoseconds()), true
				}
			})
		}
		wg.Wait()
		out = append(out, samples...)
	}
	if len(groups) > 0 && len(errs) == len(groups) {
		return nil, fmt.Errorf("redis: lag: %w", errs[0])
	}
	if d.policy != nil && !at.IsZero() {
		d.policy.Record(at, out)
	}
	return out, nil
}

// onlineReplicas are the nodes a master's INFO replication lists with
// state=online (slaveN:ip=...,port=...,state=online,offset=...,lag=...).
func (d *Deployment) onlineReplicas(in map[string]string) map[string]bool {
	out := map[string]bool{}
	for k, v := range in {
		if !strings.HasPrefix(k, "slave") || strings.HasPrefix(k, "slave_") {
			continue
		}
		f := map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			if a, b, ok := strings.Cut(kv, "="); ok {
				f[a] = b
			}
		}
		if f["state"] != "online" {
			continue
		}
		if n := d.srv.nodeOfAddr(f["ip"] + ":" + f["port"]); n != "" {
			out[n] = true
		}
	}
	return out
}

// conn is the sampler's client of node (one connection, no retries).
func (s *lagSampler) conn(d *Deployment, node string) *goredis.Client {
	c, ok := s.conns[node]
	if !ok {
		c = goredis.NewClient(clientOptions(d.srv.addr(node), 1, AdminTimeout))
		s.conns[node] = c
	}
	return c
}

// info is INFO replication of node on the sampler's connection.
func (s *lagSampler) info(ctx context.Context, d *Deployment, node string) (map[string]string, error) {
	txt, err := s.conn(d, node).Info(ctx, "replication").Result()
	if err != nil {
		return nil, fmt.Errorf("INFO replication on %s: %w", node, err)
	}
	return parseInfo(txt), nil
}

// closeLag closes the sampler's connections (Close).
func (d *Deployment) closeLag() {
	d.lag.mu.Lock()
	defer d.lag.mu.Unlock()
	for n, c := range d.lag.conns {
		_ = c.Close()
		delete(d.lag.conns, n)
	}
}

//go:build linux

package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// nftTable is the partition table (family inet) inside each container's
// network namespace: set "in" holds the sources whose packets the node
// drops, set "out" the destinations it does not send to. A grudge entry
// dst <-x- src is in dst's "in" and in src's "out" (the controller has no
// table: only the node's end cuts it). The containers lack CAP_NET_ADMIN, so
// nothing inside can change it, and it dies with the namespace.
const nftTable = "chaoscheck"

// nodeRules are one node's sets.
type nodeRules struct{ in, out []netip.Addr }

// rules turns a grudge into each node's sets (sorted).
func (c *Cluster) rules(g cluster.Grudge) (map[string]nodeRules, error) {
	out := make(map[string]nodeRules)
	for _, n := range c.names {
		out[n] = nodeRules{}
	}
	for dst, srcs := range g {
		if dst != cluster.Controller && !c.Addr(dst).IsValid() {
			return nil, fmt.Errorf("docker: partition: unknown node %q", dst)
		}
		for _, src := range srcs {
			sa := c.Addr(src)
			if !sa.IsValid() {
				return nil, fmt.Errorf("docker: partition: unknown node %q", src)
			}
			if src == dst {
				continue
			}
			// A pair is cut at both ends (dst's input, src's output):
			// while a restarted node's new namespace has no table yet,
			// its peers' tables still drop its traffic both ways.
			if src != cluster.Controller {
				r := out[src]
				r.out = append(r.out, c.Addr(dst))
				out[src] = r
			}
			if dst != cluster.Controller {
				r := out[dst]
				r.in = append(r.in, sa)
				out[dst] = r
			}
		}
	}
	for n, r := range out {
		slices.SortFunc(r.in, netip.Addr.Compare)
		slices.SortFunc(r.out, netip.Addr.Compare)
		out[n] = nodeRules{slices.Compact(r.in), slices.Compact(r.out)}
	}
	return out, nil
}

// script replaces the partition table with r's sets in one transaction
// (creating the table first makes the delete valid when it is absent).
func (r nodeRules) script() string {
	set := func(name string, as []netip.Addr) string {
		s := "\tset " + name + " {\n\t\ttype ipv4_addr\n"
		if len(as) > 0 {
			es := make([]string, len(as))
			for i, a := range as {
				es[i] = a.String()
			}
			s += "\t\telements = { " + strings.Join(es, ", ") + " }\n"
		}
		return s + "\t}\n"
	}
	return "table inet " + nftTable + " {}\ndelete table inet " + nftTable + "\n" +
		"table inet " + nftTable + " {\n" + set("in", r.in) + set("out", r.out) +
		"\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip saddr @in drop\n\t}\n" +
		"\tchain output {\n\t\ttype filter hook output priority 0; policy accept;\n\t\tip daddr @out drop\n\t}\n}\n"
}

// netns is the path of the network namespace of the container process pid.
func netns(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/ns/net" }

// nft runs nft with stdin script in pid's network namespace.
func nft(ctx context.Context, pid int, stdin string, args ...string) ([]byte, error) {
	cmd := local.Command{Path: "nft", Args: args}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	return local.RunInNetns(ctx, netns(pid), cmd)
}

// applyNode installs g's rules for node in the namespace of its process
// pid, atomically, and reads them back.
func (c *Cluster) applyNode(ctx context.Context, nodeName string, pid int, g cluster.Grudge) error {
	all, err := c.rules(g)
	if err != nil {
		return err
	}
	want := all[nodeName]
	if _, err := nft(ctx, pid, want.script(), "-f", "-"); err != nil {
		return err
	}
	got, err := readRules(ctx, pid)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if !slices.Equal(got.in, want.in) || !slices.Equal(got.out, want.out) {
		return fmt.Errorf("verify: nft sets hold in=%v out=%v, want in=%v out=%v", got.in, got.out, want.in, want.out)
	}
	return nil
}

// readRules reads the node's sets back from nft (JSON output).
func readRules(ctx context.Context, pid int) (nodeRules, error) {
	out, err := nft(ctx, pid, "", "-j", "list", "table", "inet", nftTable)
	if err != nil {
		return nodeRules{}, err
	}
	var doc struct {
		Nftables []struct {
			Set *struct {
				Name string            `json:"name"`
				Elem []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nodeRules{}, fmt.Errorf("parse nft -j output: %w", err)
	}
	var r nodeRules
	found := 0
	for _, o := range doc.Nftables {
		if o.Set == nil {
			continue
		}
		var as []netip.Addr
		for _, e := range o.Set.Elem {
			var s string
			if err := json.Unmarshal(e, &s); err != nil {
				return r, fmt.Errorf("unexpected set element %s", e)
			}
			a, err := netip.ParseAddr(s)
			if err != nil {
				return r, fmt.Errorf("unexpected set element %s", e)
			}
			as = append(as, a)
		}
		slices.SortFunc(as, netip.Addr.Compare)
		switch o.Set.Name {
		case "in":
			r.in, found = as, found+1
		case "out":
			r.out, found = as, found+1
		}
	}
	if found != 2 {
		return r, errors.New("sets in and out not both in nft output")
	}
	return r, nil
}

// Partition replaces the current partition with g: in each running
// node's network namespace, one atomic nft transaction replaces its
// table, then the sets are read back and compared with g's. (The nodes'
// tables change one after another, not all at once.) A node that is not
// running gets g when it restarts. cluster.Controller may appear in g.
func (c *Cluster) Partition(ctx context.Context, g cluster.Grudge) error {
	if _, err := c.rules(g); err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("docker: cluster closed")
	}
	c.grudge = g
	c.mu.Unlock()
	var errs []error
	for _, n := range c.names {
		p, err := c.proc(n)
		if err != nil || !p.Running() || p.Pid() == 0 {
			continue
		}
		if err := c.applyNode(ctx, n, p.Pid(), g); err != nil && !gone(p.Pid()) {
			errs = append(errs, fmt.Errorf("node %s: %w", n, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("docker: partition %v: %w", g, err)
	}
	return nil
}

// HealNetwork removes every partition: each running node's table is
// deleted, and its absence checked.
func (c *Cluster) HealNetwork(ctx context.Context) error {
	c.mu.Lock()
	c.grudge = nil
	c.mu.Unlock()
	var errs []error
	for _, n := range c.names {
		p, err := c.proc(n)
		if err != nil || !p.Running() || p.Pid() == 0 {
			continue
		}
		pid := p.Pid()
		if _, err := nft(ctx, pid, "table inet "+nftTable+" {}\ndelete table inet "+nftTable+"\n", "-f", "-"); err != nil {
			if !gone(pid) {
				errs = append(errs, fmt.Errorf("node %s: %w", n, err))
			}
			continue
		}
		if there, err := hasTable(ctx, pid); err != nil && !gone(pid) {
			errs = append(errs, fmt.Errorf("node %s: verify: %w", n, err))
		} else if there {
			errs = append(errs, fmt.Errorf("node %s: verify: table inet %s still there", n, nftTable))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("docker: heal network: %w", err)
	}
	return nil
}

// gone reports whether the container process pid has exited (its
// network namespace, and the rules in it, with it), though the exit
// watcher may not have seen it yet: a node killed while a partition is
// applied or healed is skipped, not an error (Restart applies the
// current grudge to its new namespace).
func gone(pid int) bool {
	_, err := os.Stat(netns(pid))
	return errors.Is(err, os.ErrNotExist)
}

// hasTable reports whether the partition table exists in pid's network
// namespace (nft -j list tables).
func hasTable(ctx context.Context, pid int) (bool, error) {
	out, err := nft(ctx, pid, "", "-j", "list", "tables")
	if err != nil {
		return false, err
	}
	var doc struct {
		Nftables []struct {
			Table *struct {
				Family string `json:"family"`
				Name   string `json:"name"`
			} `json:"table"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return false, fmt.Errorf("parse nft -j output: %w", err)
	}
	for _, o := range doc.Nftables {
		if o.Table != nil && o.Table.Family == "inet" && o.Table.Name == nftTable {
			return true, nil
		}
	}
	return false, nil
}

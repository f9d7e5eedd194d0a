//go:build linux

package local

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// nftTable is the name of the partition table (family bridge) in the
// switch namespace; nftSet is its set of (saddr . daddr) pairs to drop.
const (
	nftTable = "chaoscheck"
	nftSet   = "cut"
)

// nftInitScript creates the partition table: every bridged IPv4 packet
// whose (source . destination) pair is in the set is dropped; the others
// go through the loss chain (empty until Shape sets a loss).
func nftInitScript() string {
	return `table bridge ` + nftTable + ` {
	set ` + nftSet + ` {
		type ipv4_addr . ipv4_addr
	}
	chain ` + nftLossChain + ` {
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		ip saddr . ip daddr @` + nftSet + ` drop
		jump ` + nftLossChain + `
	}
}
`
}

// nft runs an nft script in the switch namespace in one transaction and
// checks its exit status.
func (c *Cluster) nft(ctx context.Context, script string) error {
	if err := runIn(ctx, c.switchNS, script, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("nft: %w", err)
	}
	return nil
}

// Pair is one direction of a link: the packets from Src to Dst.
type Pair struct{ Src, Dst netip.Addr }

// pairs turns a grudge into the (src, dst) address pairs to drop, sorted.
func (c *Cluster) pairs(g cluster.Grudge) ([]Pair, error) {
	seen := make(map[Pair]bool)
	var out []Pair
	for dst, srcs := range g {
		da := c.Addr(dst)
		if !da.IsValid() {
			return nil, fmt.Errorf("local: partition: unknown node %q", dst)
		}
		for _, src := range srcs {
			sa := c.Addr(src)
			if !sa.IsValid() {
				return nil, fmt.Errorf("local: partition: unknown node %q", src)
			}
			p := Pair{sa, da}
			if sa == da || seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Pair) int {
		if r := a.Src.Compare(b.Src); r != 0 {
			return r
		}
		return a.Dst.Compare(b.Dst)
	})
	return out, nil
}

// Partition replaces the current partition with g in one atomic nft
// transaction (flush the drop set, add g's pairs), then reads the set back
// and checks it holds exactly g's pairs. cluster.Controller may appear in g
// to cut the controller's leg off from nodes.
func (c *Cluster) Partition(ctx context.Context, g cluster.Grudge) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	want, err := c.pairs(g)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "flush set bridge %s %s\n", nftTable, nftSet)
	if len(want) > 0 {
		elems := make([]string, len(want))
		for i, p := range want {
			elems[i] = p.Src.String() + " . " + p.Dst.String()
		}
		fmt.Fprintf(&b, "add element bridge %s %s { %s }\n", nftTable, nftSet, strings.Join(elems, ", "))
	}
	if err := c.nft(ctx, b.String()); err != nil {
		return fmt.Errorf("local: partition %v: %w", g, err)
	}
	got, err := c.dropSet(ctx)
	if err != nil {
		return fmt.Errorf("local: partition %v: verify: %w", g, err)
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("local: partition %v: nft set holds %d pairs %v, want %d %v", g, len(got), got, len(want), want)
	}
	return nil
}

// HealNetwork removes every partition (flushes the drop set) and checks the
// set is empty.
func (c *Cluster) HealNetwork(ctx context.Context) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if err := c.nft(ctx, fmt.Sprintf("flush set bridge %s %s\n", nftTable, nftSet)); err != nil {
		return fmt.Errorf("local: heal network: %w", err)
	}
	got, err := c.dropSet(ctx)
	if err != nil {
		return fmt.Errorf("local: heal network: verify: %w", err)
	}
	if len(got) != 0 {
		return fmt.Errorf("local: heal network: nft set still holds %d pairs", len(got))
	}
	return nil
}

// dropSet reads the drop set back from nft (JSON output), sorted.
func (c *Cluster) dropSet(ctx context.Context) ([]Pair, error) {
	out, err := output(ctx, c.switchNS, "nft", "-j", "list", "set", "bridge", nftTable, nftSet)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Nftables []struct {
			Set *struct {
				Elem []struct {
					Concat []string `json:"concat"`
				} `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("parse nft -j output: %w", err)
	}
	var got []Pair
	found := false
	for _, o := range doc.Nftables {
		if o.Set == nil {
			continue
		}
		found = true
		for _, e := range o.Set.Elem {
			if len(e.Concat) != 2 {
				return nil, fmt.Errorf("unexpected set element %v", e.Concat)
			}
			s, err1 := netip.ParseAddr(e.Concat[0])
			d, err2 := netip.ParseAddr(e.Concat[1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("unexpected set element %v", e.Concat)
			}
			got = append(got, Pair{s, d})
		}
	}
	if !found {
		return nil, fmt.Errorf("set %s not in nft output", nftSet)
	}
	slices.SortFunc(got, func(a, b Pair) int {
		if r := a.Src.Compare(b.Src); r != 0 {
			return r
		}
		return a.Dst.Compare(b.Dst)
	})
	return got, nil
}

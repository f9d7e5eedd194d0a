//go:build linux

package docker

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

func TestShapeRulesOfANode(t *testing.T) {
	c := testCluster()
	n1, n2, n3, ctl := c.Addr("n1"), c.Addr("n2"), c.Addr("n3"), c.Addr(cluster.Controller)
	pairs, err := local.CombineLayers(map[string][]cluster.LinkShape{
		"regions": {{From: []string{"n1"}, To: []string{"n2", "n3"}, Delay: 40 * time.Millisecond}},
		"nemesis": {{From: []string{"n3"}, To: []string{"n1"}, Loss: 0.25},
			{From: []string{"n1", cluster.Controller}, To: []string{cluster.Controller, "n3"}, Delay: 5 * time.Millisecond, Loss: 1}},
	}, c.names, c.Addr)
	if err != nil {
		t.Fatal(err)
	}
	// n3 receives n1's packets 45 ms late, all dropped, and the
	// controller's 5 ms late, all dropped.
	r3 := c.nodeShapeRules(n3, pairs)
	if fmt.Sprint(r3.delayIn) != fmt.Sprint([]netip.Addr{ctl, n1}) || len(r3.delayOut) != 0 || !r3.anyDelay {
		t.Errorf("n3 delays %v in, %v out", r3.delayIn, r3.delayOut)
	}
	if got := r3.iptablesScript(n3); !strings.Contains(got, "-A PREROUTING -s "+n1.String()+"/32 -d "+n3.String()+"/32 -j NFQUEUE --queue-num 0 --queue-bypass\n") ||
		strings.Count(got, "NFQUEUE") != 2 || !strings.HasSuffix(got, "COMMIT\n") {
		t.Errorf("n3 iptables:\n%s", got)
	}
	nf := r3.nftScript()
	if !strings.Contains(nf, "ip saddr { "+ctl.String()+", "+n1.String()+" } drop\n") || strings.Contains(nf, "numgen") {
		t.Errorf("n3 nft:\n%s", nf)
	}
	// n1 receives n3's packets with 25% loss, and sends to the
	// controller 5 ms late, all dropped (at its output: the controller has
	// no namespace of the run).
	r1 := c.nodeShapeRules(n1, pairs)
	if len(r1.delayIn) != 0 || fmt.Sprint(r1.delayOut) != fmt.Sprint([]netip.Addr{ctl}) {
		t.Errorf("n1 delays %v in, %v out", r1.delayIn, r1.delayOut)
	}
	if got := r1.iptablesScript(n1); !strings.Contains(got, "-A OUTPUT -s "+n1.String()+"/32 -d "+ctl.String()+"/32 -j NFQUEUE") {
		t.Errorf("n1 iptables:\n%s", got)
	}
	nf = r1.nftScript()
	if !strings.Contains(nf, "ip saddr { "+n3.String()+" } numgen random mod 1000000 < 250000 drop\n") ||
		!strings.Contains(nf, "hook output priority 0; policy accept;\n\t\tip daddr { "+ctl.String()+" } drop\n") {
		t.Errorf("n1 nft:\n%s", nf)
	}
	// n2 receives n1's packets 40 ms late, nothing else.
	r2 := c.nodeShapeRules(n2, pairs)
	if fmt.Sprint(r2.delayIn) != fmt.Sprint([]netip.Addr{n1}) || len(r2.lossIn)+len(r2.lossOut) != 0 {
		t.Errorf("n2: %+v", r2)
	}
	if strings.Count(r2.nftScript(), "drop") != 0 {
		t.Errorf("n2 drops:\n%s", r2.nftScript())
	}
}

// Delay and loss on containers, measured: a delay between two nodes
// raises their round trip by twice the one-way delay, leaves the third
// node's links alone, survives a kill and restart of the delayed node
// (its new namespace gets the rules and a new delayer), and is gone after
// Unshape; 100% loss answers no probe; the controller's leg is shaped
// too; Close leaves nothing.
func TestShapeContainers(t *testing.T) {
	env.Require(t)
	if err := ProbeShaper(); err != nil {
		t.Fatalf("docker shaper: %v", err)
	}
	ctx := context.Background()
	c, _ := upRedis(t, ctx)
	rtt := func(a, b string) cluster.RTT {
		t.Helper()
		r, err := c.MeasureRTT(ctx, a, b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const d = 30 * time.Millisecond
	before := rtt("n1", "n2")
	if err := c.Shape(ctx, "test", []cluster.LinkShape{
		{From: []string{"n1"}, To: []string{"n2"}, Delay: d}, {From: []string{"n2"}, To: []string{"n1"}, Delay: d}}); err != nil {
		t.Fatal(err)
	}
	after := rtt("n1", "n2")
	other := rtt("n1", "n3")
	t.Logf("n1->n2 %v before, %v delayed %v each way; n1->n3 %v", before, after, d, other)
	// The lower bound is exact (a delay is never shorter); the upper one
	// is on the fastest probe, with slack for a loaded machine.
	const slack = 20 * time.Millisecond
	if after.Received != after.Sent || after.Min < before.Min+2*d || after.Min > before.Min+2*d+slack {
		t.Errorf("n1->n2 delayed: %v, want every answer, the fastest %v to %v", after, before.Min+2*d, before.Min+2*d+slack)
	}
	if other.Min > slack {
		t.Errorf("n1->n3 is not delayed, yet %v", other)
	}
	if st := c.ShaperStats(); st.Delayed < int64(2*local.RTTProbes) {
		t.Errorf("shaper counters %+v: want at least %d packets delayed", st, 2*local.RTTProbes)
	}
	// The data path too: a redis command from n1 to n2 takes a round trip
	// more (redis-cli inside n1).
	t0 := time.Now()
	if err := reach(ctx, c, "n1", "n2"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < 4*d {
		t.Errorf("redis-cli n1->n2 took %v, want at least the TCP handshake and a command, 2 round trips (%v)", el, 4*d)
	}

	// Kill and restart n2: its new namespace is delayed too.
	if err := c.Kill(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if r := rtt("n1", "n2"); r.Min < before.Min+2*d {
		t.Errorf("after restart of n2: n1->n2 %v, want the delay still in force", r)
	}

	// The controller's leg: controller -> n3 100% loss.
	if err := c.Shape(ctx, "loss", []cluster.LinkShape{{From: []string{cluster.Controller}, To: []string{"n3"}, Loss: 1}}); err != nil {
		t.Fatal(err)
	}
	if r := rtt(cluster.Controller, "n3"); r.Received != 0 {
		t.Errorf("controller->n3 with 100%% loss: %v answered", r)
	}
	if r := rtt("n2", "n3"); r.Received != r.Sent {
		t.Errorf("n2->n3 is not lossy, yet %v", r)
	}
	if err := c.Unshape(ctx, "loss"); err != nil {
		t.Fatal(err)
	}
	if r := rtt(cluster.Controller, "n3"); r.Received != r.Sent {
		t.Errorf("controller->n3 after unshape: %v", r)
	}
	if err := c.Unshape(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	healed := rtt("n1", "n2")
	t.Logf("n1->n2 after unshape: %v", healed)
	if healed.Min > slack || healed.Received != healed.Sent {
		t.Errorf("n1->n2 after unshape: %v", healed)
	}
	// No queue rule left in any node.
	for _, n := range c.Nodes() {
		p := c.Processes(n)[0]
		out, err := local.RunInNetns(ctx, netns(p.Pid()), local.Command{Path: local.IptablesBinary(), Args: []string{"-t", "raw", "-S"}})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "NFQUEUE") {
			t.Errorf("%s keeps a queue rule after unshape:\n%s", n, out)
		}
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.ShaperStats(); st != (local.ShaperStats{}) {
		t.Errorf("delayers still open after Close: %+v", st)
	}
}

// A standing layer shaped before the containers exist (the regions'
// delay, which targets put in place before their servers start) is in
// force in each container's namespace from its start.
func TestShapeBeforeStart(t *testing.T) {
	env.Require(t)
	if err := ProbeShaper(); err != nil {
		t.Fatalf("docker shaper: %v", err)
	}
	ctx := context.Background()
	c, err := New(ctx, cluster.Spec{Target: "redis", Nodes: 3}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx) })
	const rtt = 40 * time.Millisecond
	if err := c.Shape(ctx, "regions", []cluster.LinkShape{
		{From: []string{"n1"}, To: []string{"n2", "n3"}, Delay: rtt / 2}, {From: []string{"n2", "n3"}, To: []string{"n1"}, Delay: rtt / 2}}); err != nil {
		t.Fatalf("shape before any container exists: %v", err)
	}
	for _, n := range c.Nodes() {
		if _, err := c.Start(ctx, n, redisSpec(c, n)); err != nil {
			t.Fatal(err)
		}
	}
	across, err := c.MeasureRTT(ctx, "n1", "n3")
	if err != nil {
		t.Fatal(err)
	}
	within, err := c.MeasureRTT(ctx, "n2", "n3")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("n1->n3 (across) %v; n2->n3 (within) %v", across, within)
	if across.Received != across.Sent || across.Min < rtt {
		t.Errorf("n1->n3 %v: want every probe answered, at least %v", across, rtt)
	}
	if within.Min > 20*time.Millisecond {
		t.Errorf("n2->n3 %v: not delayed, want the fastest under 20ms", within)
	}
}

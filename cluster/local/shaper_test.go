//go:build linux

package local

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

func rtt(t *testing.T, c *Cluster, a, b string) cluster.RTT {
	t.Helper()
	r, err := c.MeasureRTT(t.Context(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s->%s %v", a, b, r)
	return r
}

// Delay and loss take effect, per direction and per pair, add up across
// layers, and go away when unshaped; the controller leg can be shaped too.
func TestShapeDelayAndLoss(t *testing.T) {
	requireTools(t)
	if err := ProbeShaper(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	c, cfg := up(t, 3, "10.78.40.0/24")
	defer func() {
		if err := c.Down(ctx); err != nil {
			t.Error(err)
		}
		checkNoLeftovers(t, cfg)
	}()
	// Lower bounds are exact (a delay is never shorter); upper bounds are
	// on the fastest probe, with slack for a loaded machine.
	const slack = 20 * time.Millisecond
	base := rtt(t, c, "n1", "n2")
	if base.Received != base.Sent || base.Min > slack {
		t.Fatalf("baseline n1->n2 %v: want every answer, the fastest under %v", base, slack)
	}
	// One direction only: n1->n2 30ms. The RTT is then 30ms more.
	if err := c.Shape(ctx, "a", []cluster.LinkShape{{From: []string{"n1"}, To: []string{"n2"}, Delay: 30 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	r := rtt(t, c, "n1", "n2")
	if r.Received != r.Sent || r.Min < 30*time.Millisecond || r.Min > 30*time.Millisecond+slack {
		t.Errorf("n1->n2 with 30ms one way: %v, want a minimum of 30ms to 30ms+%v", r, slack)
	}
	if r := rtt(t, c, "n1", "n3"); r.Min > slack {
		t.Errorf("n1->n3 unshaped: %v, want under 5ms", r)
	}
	// A second layer adds 20ms back (n2->n1) with 10ms jitter.
	if err := c.Shape(ctx, "b", []cluster.LinkShape{{From: []string{"n2"}, To: []string{"n1"}, Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	r = rtt(t, c, "n1", "n2")
	if r.Received != r.Sent || r.Min < 50*time.Millisecond || r.Min > 60*time.Millisecond+slack {
		t.Errorf("n1->n2 with 30ms + 20ms±10ms: %v, want a minimum of 50ms to 60ms+%v", r, slack)
	}
	// The controller leg: controller->n3 10ms.
	if err := c.Shape(ctx, "b", []cluster.LinkShape{{From: []string{cluster.Controller}, To: []string{"n3"}, Delay: 10 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	if r := rtt(t, c, cluster.Controller, "n3"); r.Min < 10*time.Millisecond || r.Min > 10*time.Millisecond+slack {
		t.Errorf("controller->n3 with 10ms: %v", r)
	}
	// Loss 100% n1->n3: no answer; 0 elsewhere.
	if err := c.Shape(ctx, "b", []cluster.LinkShape{{From: []string{"n1"}, To: []string{"n3"}, Loss: 1}}); err != nil {
		t.Fatal(err)
	}
	if r := rtt(t, c, "n1", "n3"); r.Received != 0 {
		t.Errorf("n1->n3 with 100%% loss: %v", r)
	}
	if err := c.Shape(ctx, "b", []cluster.LinkShape{{From: []string{"n1"}, To: []string{"n3"}, Loss: 0.5}}); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for range 3 {
		r := rtt(t, c, "n1", "n3")
		lost += r.Sent - r.Received
	}
	// 30 probes at 50%: P(lost < 5) is about 1e-5.
	if lost < 5 || lost > 25 {
		t.Errorf("50%% loss: lost %d of 30 probes", lost)
	}
	if err := c.Unshape(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Unshape(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	for _, pr := range [][2]string{{"n1", "n2"}, {"n1", "n3"}} {
		if r := rtt(t, c, pr[0], pr[1]); r.Received != r.Sent || r.Min > slack {
			t.Errorf("%s->%s after unshape: %v", pr[0], pr[1], r)
		}
	}
	st := c.ShaperStats()
	t.Logf("shaper: %+v", st)
	if st.Delayed == 0 {
		t.Error("the shaper held no packet")
	}
	if err := c.Shape(ctx, "x", []cluster.LinkShape{{From: []string{"n9"}, Delay: time.Millisecond}}); err == nil {
		t.Error("Shape accepted an unknown node")
	}
	if err := c.Shape(ctx, "x", []cluster.LinkShape{{Loss: 1.5}}); err == nil {
		t.Error("Shape accepted loss 1.5")
	}
}

// shapeController is the controller process of
// TestShaperOfKilledControllerIsHealed: it brings a 2-node cluster up,
// delays n1<->n2 by 50ms each way, prints "ready <prefix> <switch netns>
// <n1 netns>", and waits to be SIGKILLed.
func shapeController() error {
	ctx := context.Background()
	c, err := Up(ctx, Config{Nodes: 2, Subnet: netip.MustParsePrefix(os.Getenv("CHAOSCHECK_SHAPE_SUBNET")),
		JournalDir: os.Getenv("CHAOSCHECK_SHAPE_CONTROLLER"), Target: "unit"})
	if err != nil {
		return err
	}
	if err := c.Shape(ctx, "fault", []cluster.LinkShape{{Delay: 50 * time.Millisecond}}); err != nil {
		return err
	}
	fmt.Printf("ready %s %s %s\n", c.Prefix(), c.switchNS, c.Namespace("n1"))
	select {}
}

// kill -9 of a controller while its shaper delays traffic: the packets
// then pass undelayed (the rules bypass an unbound queue), and HealAll
// removes the rules with the namespaces; no queue, rule or process is
// left.
func TestShaperOfKilledControllerIsHealed(t *testing.T) {
	requireTools(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	jdir, tmp := t.TempDir(), t.TempDir()
	ctl := exec.Command(exe, "-test.run=^$")
	ctl.Env = append(os.Environ(), "CHAOSCHECK_SHAPE_CONTROLLER="+jdir, "CHAOSCHECK_SHAPE_SUBNET=10.78.41.0/24", "TMPDIR="+tmp)
	ctl.Stderr = os.Stderr
	stdout, err := ctl.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	defer ctl.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("controller: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ready" {
		t.Fatalf("controller said %q", line)
	}
	prefix, swNS, n1NS := f[1], f[2], f[3]
	n2 := netip.MustParseAddr("10.78.41.12")
	ping := func() cluster.RTT {
		r, err := pingFrom(t.Context(), "/run/netns/"+n1NS, n2, RTTProbes, 10*time.Millisecond, RTTTimeout)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := ping(); r.Min < 100*time.Millisecond {
		t.Fatalf("n1->n2 while delayed 50ms each way: %v, want at least 100ms", r)
	} else {
		t.Logf("delayed: %v", r)
	}
	queues := func() string {
		out, err := RunInNetns(t.Context(), "/run/netns/"+swNS, Command{Path: "cat", Args: []string{"/proc/net/netfilter/nfnetlink_queue"}})
		if err != nil {
			return "no switch netns: " + err.Error()
		}
		return string(out)
	}
	if q := queues(); strings.TrimSpace(q) == "" {
		t.Errorf("no queue bound in the switch namespace while shaping")
	}
	if err := ctl.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = ctl.Wait()
	// Fail open: the rules are still there, the queue is not.
	if q := queues(); strings.TrimSpace(q) != "" {
		t.Errorf("a queue is still bound after the controller died: %q", q)
	}
	if r := ping(); r.Received != r.Sent || r.Min > 20*time.Millisecond {
		t.Errorf("n1->n2 after the controller died: %v, want undelayed (fail open)", r)
	} else {
		t.Logf("after kill -9, before heal: %v", r)
	}
	rules, err := RunInNetns(t.Context(), "/run/netns/"+swNS, Command{Path: IptablesBinary(), Args: []string{"-S", "FORWARD"}})
	if err != nil || !strings.Contains(string(rules), "NFQUEUE") {
		t.Errorf("want the queue rules left until heal (so the test proves something): %s %v", rules, err)
	}
	rep, err := HealAll(t.Context(), jdir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HealAll removed %v", rep.Removed)
	if !strings.Contains(strings.Join(rep.Removed, "\n"), "iptables table filter") {
		t.Errorf("HealAll did not name the iptables table: %v", rep.Removed)
	}
	checkNoLeftovers(t, Config{Prefix: prefix, JournalDir: jdir})
	if netnsExists(swNS) {
		t.Errorf("switch netns %s left", swNS)
	}
}

//go:build linux

package docker

import (
	"archive/tar"
	"bytes"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/cluster"
)

func testCluster() *Cluster {
	p := netip.MustParsePrefix("10.78.5.0/24")
	c := &Cluster{subnet: p, ctrl: addrAt(p, 1), nodes: map[string]*node{}}
	for i, n := range []string{"n1", "n2", "n3"} {
		c.nodes[n] = &node{name: n, addr: addrAt(p, 11+i)}
		c.names = append(c.names, n)
	}
	return c
}

func TestRulesFromGrudge(t *testing.T) {
	c := testCluster()
	g := cluster.Bidirectional([]string{"n1"}, []string{"n2", "n3"})
	g[cluster.Controller] = []string{"n3"}
	g["n2"] = append(g["n2"], "n1", "n2") // duplicates and self are ignored
	r, err := c.rules(g)
	if err != nil {
		t.Fatal(err)
	}
	a := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	want := map[string]nodeRules{
		"n1": {in: a("10.78.5.12", "10.78.5.13"), out: a("10.78.5.12", "10.78.5.13")},
		"n2": {in: a("10.78.5.11"), out: a("10.78.5.11")},
		"n3": {in: a("10.78.5.11"), out: a("10.78.5.1", "10.78.5.11")},
	}
	// One way: n2 drops n1's packets; n1 does not send them; nothing else.
	r1, err := c.rules(cluster.Grudge{"n2": {"n1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r1["n2"].in, a("10.78.5.11")) || r1["n2"].out != nil || r1["n1"].in != nil || !slices.Equal(r1["n1"].out, a("10.78.5.12")) || r1["n3"].in != nil || r1["n3"].out != nil {
		t.Errorf("one-way n2<-x-n1: %+v", r1)
	}
	for n, w := range want {
		if !slices.Equal(r[n].in, w.in) || !slices.Equal(r[n].out, w.out) {
			t.Errorf("%s: got in=%v out=%v, want in=%v out=%v", n, r[n].in, r[n].out, w.in, w.out)
		}
	}
	s := r["n3"].script()
	for _, w := range []string{"delete table inet chaoscheck", "elements = { 10.78.5.11 }", "elements = { 10.78.5.1, 10.78.5.11 }", "ip saddr @in drop", "ip daddr @out drop"} {
		if !strings.Contains(s, w) {
			t.Errorf("n3's script lacks %q:\n%s", w, s)
		}
	}
	if _, err := c.rules(cluster.Grudge{"n1": {"n9"}}); err == nil {
		t.Error("a grudge naming an unknown node was accepted")
	}
	if _, err := c.rules(cluster.Grudge{"n9": {"n1"}}); err == nil {
		t.Error("a grudge naming an unknown destination was accepted")
	}
}

func TestUntarRefusesEscape(t *testing.T) {
	for _, names := range [][]string{{"d/", "d/../../evil"}, {"d/", "e/x"}, {"d/", "dd/x"}} {
		t.Run(strings.Join(names, ","), func(t *testing.T) { untarRefuses(t, names) })
	}
}

// untarRefuses checks that an archive of names, the first being the
// copied directory, is refused.
func untarRefuses(t *testing.T, names []string) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range names {
		h := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}
		if strings.HasSuffix(name, "/") {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	dst := filepath.Join(t.TempDir(), "out")
	if err := untarTo(&buf, dst); err == nil {
		t.Fatal("an entry escaping the copy was extracted")
	}
}

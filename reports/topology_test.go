package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/rundir"
)

// TestReportTopologyFromFacts: the topology section is test.json's typed
// facts (regions, their nodes and replicas, the RTT between them), not the
// target's settings strings: settings that say otherwise do not change
// it, and a run without a topology has no section.
func TestReportTopologyFromFacts(t *testing.T) {
	dir := t.TempDir()
	fx := makeRun(t, "")
	fx.Dir = dir
	fx.Test.Facts.Topology = &rundir.Topology{
		Regions: []rundir.Region{
			{Name: "r1", Nodes: []string{"n1", "n2"}, Replicas: 2},
			{Name: "r2", Nodes: []string{"n3", "n4"}, Replicas: 2},
		},
		RegionRTTNS: 80e6, RegionJitterNS: 10e6, RegionLossPct: 2, RegionDelayBy: "the runtime's shaper (half each way)",
		Clients: "dealt to datacenters round-robin (process mod 2)",
	}
	fx.Test.TargetSettings = append(fx.Test.TargetSettings, rundir.Setting{Name: "regions", Value: "9 (r9: n9)"}, rundir.Setting{Name: "region rtt", Value: "1s"})
	writeRun(t, dir, fx)
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, rundir.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	i := strings.Index(page, `id="topology"`)
	if i < 0 {
		t.Fatal("no topology section")
	}
	sec := page[i:]
	sec = sec[:strings.Index(sec, "</div>")]
	for _, want := range []string{`<th>r1</th><td class="mono">n1 n2</td><td>2</td>`, `<th>r2</th><td class="mono">n3 n4</td><td>2</td>`, "<b>80 ms ± 10 ms, 2% of packets lost each way</b>", "runtime", "round-robin (process mod 2)"} {
		if !strings.Contains(sec, want) {
			t.Errorf("topology section lacks %q:\n%s", want, sec)
		}
	}
	if strings.Contains(sec, "r9") || strings.Contains(sec, "1s") || strings.Contains(sec, "active-active") {
		t.Errorf("topology section reads the settings strings or invents:\n%s", sec)
	}

	one := t.TempDir()
	fx = makeRun(t, "")
	fx.Dir = one
	writeRun(t, one, fx)
	if err := Write(one); err != nil {
		t.Fatal(err)
	}
	b, err = os.ReadFile(filepath.Join(one, rundir.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `id="topology"`) {
		t.Error("a topology section for a single-region run")
	}
}

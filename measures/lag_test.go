package measures

import (
	"bytes"
	"testing"

	"github.com/chaoscheck/chaoscheck/lag"
)

// The summary of lag.jsonl per replica: percentiles of each figure, the
// failed samples, and the time over the alert threshold, each sample
// over it counting until the replica's next sample.
func TestReplicationLag(t *testing.T) {
	var buf bytes.Buffer
	w := lag.NewWriter(&buf)
	l := lag.Int64
	samples := []lag.Sample{
		{Time: 0, Node: "r1", Of: "p", LagNS: l(50)},
		{Time: 0, Node: "r2", Of: "p", Entries: l(3), LagNS: l(0), Derived: true},
		{Time: 100, Node: "r1", Of: "p", LagNS: l(150)},
		{Time: 100, Node: "r2", Of: "p", Entries: l(7), LagNS: l(500), Derived: true},
		{Time: 200, Node: "r1", Of: "p", LagNS: l(200)},
		{Time: 250, Node: "r1", Err: "timeout"},
		{Time: 300, Node: "r1", Of: "p", LagNS: l(20)},
		{Time: 400, Node: "r1", Of: "p", LagNS: l(300)},
		{Time: 400, Node: "r2", Of: "p", Entries: l(1), LagNS: l(10), Derived: true},
	}
	if err := w.Write(samples); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReplicationLag(func(fn func(*lag.Sample) error) error { return lag.Scan(bytes.NewReader(buf.Bytes()), fn) }, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%+v", got)
	}
	r1, r2 := got[0], got[1]
	if r1.Node != "r1" || r1.Of != "p" || r1.Samples != 6 || r1.Failed != 1 || r1.OverAlertNS != 150 || r1.AlertNS != 100 || r1.Derived ||
		r1.Lag == nil || *r1.Lag != (LatencyStats{Count: 5, P50NS: 150, P99NS: 300, MaxNS: 300}) || r1.Entries != nil {
		t.Errorf("r1 %+v lag %+v", r1, r1.Lag)
	}
	if r2.Node != "r2" || r2.Samples != 3 || r2.Failed != 0 || r2.OverAlertNS != 300 || !r2.Derived ||
		r2.Entries == nil || *r2.Entries != (FigureStats{Count: 3, P50: 3, P99: 7, Max: 7}) {
		t.Errorf("r2 %+v entries %+v", r2, r2.Entries)
	}
	// No lag.jsonl: nothing, and no error.
	none, err := ReplicationLag(func(fn func(*lag.Sample) error) error { return lag.ScanFile(t.TempDir()+"/lag.jsonl", fn) }, 100)
	if err != nil || none != nil {
		t.Errorf("no file: %v %v", none, err)
	}
}

// A lag.jsonl cut short mid-line (a run stopped while writing) reads up
// to its last whole line; a corrupt line is an error naming it.
func TestLagScanCutShort(t *testing.T) {
	n := 0
	err := lag.Scan(bytes.NewReader([]byte("{\"time\":1,\"node\":\"a\"}\n{\"time\":2,\"no")), func(*lag.Sample) error { n++; return nil })
	if err != nil || n != 1 {
		t.Errorf("cut short: %d samples, %v", n, err)
	}
	err = lag.Scan(bytes.NewReader([]byte("{\"time\":1}\nnot json\n")), func(*lag.Sample) error { return nil })
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("line 2")) {
		t.Errorf("corrupt line: %v", err)
	}
}

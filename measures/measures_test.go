package measures

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// builder appends ops with explicit times.
type builder struct{ h history.History }

func (b *builder) op(t int64, typ history.Type, p history.Process, f string, v history.Value) int {
	i := len(b.h.Ops)
	b.h.Ops = append(b.h.Ops, history.Op{Index: i, Time: t, Type: typ, Process: p, F: f, Key: "set:0", Value: v})
	return i
}

func TestFailoverMeasures(t *testing.T) {
	var b builder
	n := history.Nemesis
	// Two acknowledged adds before the failover (the second will be lost),
	// the failover from 100 to 130, no ok write until 200.
	a1 := b.op(10, history.Invoke, 0, "add", history.Int(1))
	b.op(20, history.OK, 0, "add", history.Int(1))
	a2 := b.op(60, history.Invoke, 0, "add", history.Int(2))
	c2 := b.op(70, history.OK, 0, "add", history.Int(2))
	b.op(100, history.Invoke, n, "start-failover", history.Nil())
	b.op(130, history.Info, n, "start-failover", history.Str("primary n1 killed, n2 promoted"))
	b.op(140, history.Invoke, 1, "add", history.Int(3))
	b.op(150, history.Fail, 1, "add", history.Int(3))
	b.op(190, history.Invoke, 1, "add", history.Int(4))
	b.op(200, history.OK, 1, "add", history.Int(4))
	b.op(300, history.Invoke, n, "stop-failover", history.Nil())
	b.op(310, history.Info, n, "stop-failover", history.Str("primary n1 killed, n2 promoted"))
	r := b.op(320, history.Invoke, 2, "read", history.Nil())
	b.op(330, history.OK, 2, "read", history.Ints(1, 4))
	if err := b.h.Validate(); err != nil {
		t.Fatal(err)
	}
	_ = a1
	_, _, _ = a2, c2, r
	m, err := Compute(&b.h, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Failovers) != 1 {
		t.Fatalf("failovers: %+v", m.Failovers)
	}
	f := m.Failovers[0]
	if f.StartNS != 100 || f.EndNS != 130 {
		t.Errorf("failover interval %d-%d", f.StartNS, f.EndNS)
	}
	if f.DowntimeNS != 130 { // last ok write at 70, next at 200
		t.Errorf("downtime %d, want 130", f.DowntimeNS)
	}
	if f.LostWrites != 1 || len(f.LostElements) != 1 || f.LostElements[0] != 2 || f.LossWindowNS != 60 {
		t.Errorf("lost %+v", f)
	}
	if len(m.Availability) != 1 || m.Availability[0].During.Fail != 1 || m.Availability[0].During.OK != 1 {
		t.Errorf("availability %+v", m.Availability)
	}
}

func TestStalenessDistribution(t *testing.T) {
	var as []checkers.Anomaly
	for i := int64(1); i <= 100; i++ {
		as = append(as, checkers.Anomaly{Kind: "read-your-writes", StalenessNS: i})
	}
	d := staleness([]checkers.Result{{Anomalies: as}})
	if d == nil || d.Count != 100 || d.P50NS != 51 || d.P90NS != 91 || d.MaxNS != 100 {
		t.Fatalf("%+v", d)
	}
	if staleness(nil) != nil {
		t.Fatal("staleness without anomalies")
	}
}

func TestLoad(t *testing.T) {
	var b builder
	for i, n := range []string{"n1", "n1", "n1", "n2", "n1", "n3"} {
		b.op(int64(2*i), history.Invoke, 0, "read", history.Nil())
		b.op(int64(2*i+1), history.OK, 0, "read", history.Int(1))
		b.h.Ops[len(b.h.Ops)-1].Node = n
	}
	m, err := Compute(&b.h, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := m.Load
	if l == nil || l.Hottest != "n1" || l.Nodes[0].Ops != 4 || l.Imbalance != 2 {
		t.Fatalf("%+v", l)
	}
}

// Issue 10, case 6: the staleness distribution is computed over every
// stale read, not over the at most MaxAnomalies witnesses a result keeps.
func TestStalenessOverEveryStaleRead(t *testing.T) {
	// A session history with 500 read-your-writes violations: one
	// process writes, then reads nil, 500 times on 500 keys; the i-th
	// read returns i ns after its write completed.
	var b builder
	for i := int64(0); i < 500; i++ {
		key := "k" + strconv.FormatInt(i, 10)
		t0 := i * 1000
		b.h.Ops = append(b.h.Ops,
			history.Op{Index: len(b.h.Ops), Time: t0, Type: history.Invoke, Process: 0, F: "write", Key: key, Value: history.Int(i)},
			history.Op{Index: len(b.h.Ops) + 1, Time: t0 + 1, Type: history.OK, Process: 0, F: "write", Key: key, Value: history.Int(i)},
			history.Op{Index: len(b.h.Ops) + 2, Time: t0 + 1, Type: history.Invoke, Process: 0, F: "read", Key: key, Value: history.Nil()},
			history.Op{Index: len(b.h.Ops) + 3, Time: t0 + 1 + (i + 1), Type: history.OK, Process: 0, F: "read", Key: key, Value: history.Nil()},
		)
	}
	if err := b.h.Validate(); err != nil {
		t.Fatal(err)
	}
	res := checkers.Session{}.Check(context.Background(), &b.h)
	if res.AnomalyCounts[checkers.KindReadYourWrites] != 500 || len(res.Anomalies) != checkers.MaxAnomalies {
		t.Fatalf("counts %v, %d witnesses", res.AnomalyCounts, len(res.Anomalies))
	}
	m, err := Compute(&b.h, []checkers.Result{res}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := m.WitnessStaleness
	if d == nil || d.Count != 500 || d.P50NS != 251 || d.P90NS != 451 || d.MaxNS != 500 {
		t.Fatalf("staleness %+v: want 500 stale reads, p50 251ns, p90 451ns, max 500ns", d)
	}
	if !strings.Contains(d.Source, "read") {
		t.Errorf("source %q", d.Source)
	}
}

// A read that violates both read-your-writes and monotonic reads is one
// stale read (two anomalies): counted once, the anomalies reported beside.
func TestStalenessReadViolatingTwoGuaranteesCountsOnce(t *testing.T) {
	var b builder
	b.h.Ops = []history.Op{
		{Time: 10, Type: history.Invoke, Process: 0, F: "write", Key: "k", Value: history.Int(1)},
		{Time: 20, Type: history.OK, Process: 0, F: "write", Key: "k", Value: history.Int(1)},
		{Time: 30, Type: history.Invoke, Process: 0, F: "read", Key: "k", Value: history.Nil()},
		{Time: 40, Type: history.OK, Process: 0, F: "read", Key: "k", Value: history.Int(1)},
		{Time: 50, Type: history.Invoke, Process: 0, F: "read", Key: "k", Value: history.Nil()},
		{Time: 60, Type: history.OK, Process: 0, F: "read", Key: "k", Value: history.Nil()},
	}
	for i := range b.h.Ops {
		b.h.Ops[i].Index = i
	}
	res := checkers.Session{}.Check(context.Background(), &b.h)
	if res.AnomalyCounts[checkers.KindReadYourWrites] != 1 || res.AnomalyCounts[checkers.KindMonotonicReads] != 1 {
		t.Fatalf("counts %v", res.AnomalyCounts)
	}
	m, err := Compute(&b.h, []checkers.Result{res}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := m.WitnessStaleness
	if d == nil || d.Count != 1 || d.Anomalies != 2 || d.MaxNS != 40 {
		t.Fatalf("staleness %+v: want 1 stale read (2 anomalies), 40ns after the write", d)
	}
}

// Latency counts ok operations only, reads apart from writes, with
// nearest-rank percentiles, and per region of the serving node.
func TestLatency(t *testing.T) {
	var b builder
	at := int64(0)
	add := func(p history.Process, f string, d int64, typ history.Type, node string) {
		at += 1000
		b.op(at, history.Invoke, p, f, history.Nil())
		i := b.op(at+d, typ, p, f, history.Nil())
		b.h.Ops[i].Node = node
		at += d
	}
	// 100 reads on n1 of 1..100 ns; writes on n2: 10, 20, 30 ok, one
	// failed of 1e9 and one info of 2e9 (neither counted).
	for i := int64(1); i <= 100; i++ {
		add(0, "read", i, history.OK, "n1")
	}
	for _, d := range []int64{30, 10, 20} {
		add(0, "write", d, history.OK, "n2")
	}
	add(0, "write", 1e9, history.Fail, "n2")
	add(1, "cas", 2e9, history.Info, "n2")
	if err := b.h.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := Compute(&b.h, nil, Options{Regions: map[string]string{"n1": "r1", "n2": "r2"}})
	if err != nil {
		t.Fatal(err)
	}
	want := Latency{
		Read:  LatencyStats{Count: 100, P50NS: 50, P99NS: 99, MaxNS: 100},
		Write: LatencyStats{Count: 3, P50NS: 20, P99NS: 30, MaxNS: 30},
		Regions: []RegionLatency{
			{Region: "r1", Read: LatencyStats{Count: 100, P50NS: 50, P99NS: 99, MaxNS: 100}},
			{Region: "r2", Write: LatencyStats{Count: 3, P50NS: 20, P99NS: 30, MaxNS: 30}},
		},
	}
	if !reflect.DeepEqual(m.Latency, want) {
		t.Errorf("latency %+v\nwant %+v", m.Latency, want)
	}
	if m, _ := Compute(&b.h, nil, Options{}); m.Latency.Regions != nil || m.Latency.Read.Count != 100 {
		t.Errorf("without regions: %+v", m.Latency)
	}
}

package workloads

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

// bareClient implements no workload interface.
type bareClient struct{}

func (bareClient) Close() error { return nil }

// memClient is an atomic in-memory register and set store.
type memClient struct {
	regs map[string]int64
	sets map[string][]int64
	err  error
}

func newMem() *memClient { return &memClient{regs: map[string]int64{}, sets: map[string][]int64{}} }

func (m *memClient) Close() error { return nil }
func (m *memClient) Read(_ context.Context, k string) (int64, bool, error) {
	v, ok := m.regs[k]
	return v, ok, m.err
}
func (m *memClient) Write(_ context.Context, k string, v int64) error {
	if m.err != nil {
		return m.err
	}
	m.regs[k] = v
	return nil
}
func (m *memClient) CAS(_ context.Context, k string, old, new int64) (bool, error) {
	if v, ok := m.regs[k]; ok && v == old {
		m.regs[k] = new
		return true, m.err
	}
	return false, m.err
}
func (m *memClient) Add(_ context.Context, k string, e int64) error {
	m.sets[k] = append(m.sets[k], e)
	return m.err
}
func (m *memClient) ReadSet(_ context.Context, k string) ([]int64, error) { return m.sets[k], m.err }

func TestUnknownWorkloadAndKeys(t *testing.T) {
	if _, err := New("bank", DefaultOptions()); err == nil || !strings.Contains(err.Error(), "register") {
		t.Fatalf("unknown workload: %v", err)
	}
	if _, err := New("register", Options{Keys: 0}); err == nil {
		t.Fatal("zero keys accepted")
	}
}

func TestWorkloadsRefuseClientsWithoutTheirInterface(t *testing.T) {
	for _, n := range Names() {
		w, err := New(n, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.NewWorker(bareClient{}); err == nil || !strings.Contains(err.Error(), n) {
			t.Errorf("%s accepted a client without its interface: %v", n, err)
		}
	}
}

// Written values are unique across workers, and every key carries the
// workload's prefix.
func TestRegisterValuesUniqueAndPrefixed(t *testing.T) {
	w, _ := New("register", DefaultOptions())
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[int64]bool{}
	for i := 0; i < 4; i++ {
		wk, err := w.NewWorker(newMem())
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 500; j++ {
			inv := wk.Next(rng)
			if !strings.HasPrefix(inv.Key, KeyPrefix("register")) {
				t.Fatalf("key %q", inv.Key)
			}
			var v int64
			switch inv.F {
			case "write":
				v, _ = inv.Value.AsInt()
			case "cas":
				vs, _ := inv.Value.AsInts()
				v = vs[1]
			default:
				continue
			}
			if seen[v] {
				t.Fatalf("value %d written twice", v)
			}
			seen[v] = true
		}
	}
}

// A failed compare is recorded ok with the not-swapped marker; a definite
// error is fail; any other write error is info; a read error is fail.
func TestCompletionSemantics(t *testing.T) {
	m := newMem()
	ctx := context.Background()
	c := doRegister(ctx, m, Invocation{F: "cas", Key: "k", Value: history.Ints(1, 2)})
	if vs, _ := c.Value.AsList(); c.Type != history.OK || len(vs) != 3 || !vs[2].Equal(history.Str(history.NotSwapped)) {
		t.Errorf("failed compare: %+v", c)
	}
	m.err = Definite(errors.New("unavailable"))
	if c := doRegister(ctx, m, Invocation{F: "write", Key: "k", Value: history.Int(3)}); c.Type != history.Fail {
		t.Errorf("definite write error: %+v", c)
	}
	m.err = errors.New("timeout")
	if c := doRegister(ctx, m, Invocation{F: "write", Key: "k", Value: history.Int(4)}); c.Type != history.Info {
		t.Errorf("ambiguous write error: %+v", c)
	}
	if c := doRegister(ctx, m, Invocation{F: "read", Key: "k"}); c.Type != history.Fail {
		t.Errorf("read error: %+v", c)
	}
}

func TestSetFinalReadsEveryKey(t *testing.T) {
	w, _ := New("set", Options{Keys: 3})
	fin := w.(Finisher).FinalInvocations()
	if len(fin) != 3 || fin[0].F != "read" || fin[2].Key != "set:2" {
		t.Fatalf("%+v", fin)
	}
}

func TestRYWWorkersOwnTheirKeys(t *testing.T) {
	w, _ := New("ryw", DefaultOptions())
	a, _ := w.NewWorker(newMem())
	b, _ := w.NewWorker(newMem())
	rng := rand.New(rand.NewPCG(3, 4))
	if ka, kb := a.Next(rng).Key, b.Next(rng).Key; ka == kb {
		t.Fatalf("two ryw workers share key %q", ka)
	}
	// One write, then two reads.
	var fs []string
	for i := 0; i < 5; i++ {
		fs = append(fs, a.Next(rng).F)
	}
	if strings.Join(fs, ",") != "read,read,write,read,read" {
		t.Fatalf("pattern %v", fs)
	}
}

// TestWorkloadTable: every row builds a workload of its name, with a
// summary, in name order.
func TestWorkloadTable(t *testing.T) {
	rows := Workloads()
	for i, r := range rows {
		w, err := New(r.Name, DefaultOptions())
		if err != nil || w.Name() != r.Name || r.Summary == "" {
			t.Errorf("row %s: %v %v", r.Name, w, err)
		}
		if i > 0 && rows[i-1].Name >= r.Name {
			t.Errorf("rows not sorted at %s", r.Name)
		}
	}
}

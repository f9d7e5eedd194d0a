package workloads

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

// memTxn is a serial in-memory transaction store.
type memTxn struct {
	lists map[int64][]int64
	regs  map[int64]int64
	err   error
}

func (m *memTxn) Close() error { return nil }
func (m *memTxn) Txn(_ context.Context, kind TxnKind, ops []MicroOp) error {
	if m.err != nil {
		return m.err
	}
	for i := range ops {
		op := &ops[i]
		switch op.F {
		case "append":
			m.lists[op.Key] = append(m.lists[op.Key], op.Value)
		case "w":
			m.regs[op.Key] = op.Value
		case "r":
			if kind == Lists {
				l, ok := m.lists[op.Key]
				op.Read, op.Found = slices.Clone(l), ok
			} else {
				v, ok := m.regs[op.Key]
				op.Read, op.Found = []int64{v}, ok
			}
		}
	}
	return nil
}

// The transaction workloads draw 1 to 4 micro-ops, values unique per key
// (1, 2, 3...), keys retired after TxnWritesPerKey writes and replaced,
// with at most Keys keys active; the history value has Elle's form and
// reads are filled only on completion; errors map to fail (Definite) and
// info.
func TestTxnWorkloads(t *testing.T) {
	for _, c := range []struct {
		name, write string
		kind        TxnKind
	}{{"list-append", "append", Lists}, {"rw-register", "w", Registers}} {
		w, err := New(c.name, Options{Keys: 3})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := w.(OpOwner); !ok {
			t.Fatalf("%s is not an OpOwner", c.name)
		}
		mem := &memTxn{lists: map[int64][]int64{}, regs: map[int64]int64{}}
		wk, err := w.NewWorker(mem)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		last := map[int64]int64{}
		lengths := map[int]bool{}
		for i := 0; i < 2000; i++ {
			inv := wk.Next(rng)
			mops, _ := inv.Value.AsList()
			if inv.F != "txn" || inv.Key != "" || len(mops) < TxnMinLength || len(mops) > TxnMaxLength {
				t.Fatalf("%s: invocation %s %q %s", c.name, inv.F, inv.Key, inv.Value)
			}
			lengths[len(mops)] = true
			for _, m := range mops {
				parts, _ := m.AsList()
				f, _ := parts[0].AsString()
				k, _ := parts[1].AsInt()
				switch f {
				case c.write:
					v, _ := parts[2].AsInt()
					if v != last[k]+1 {
						t.Fatalf("%s: key %d got value %d after %d", c.name, k, v, last[k])
					}
					last[k] = v
					if v > TxnWritesPerKey {
						t.Fatalf("key %d written %d times", k, v)
					}
				case "r":
					if !parts[2].IsNil() {
						t.Fatalf("invocation read carries %s", parts[2])
					}
				default:
					t.Fatalf("%s: micro-op %s", c.name, f)
				}
			}
			comp := wk.Do(context.Background(), inv)
			if comp.Type != history.OK {
				t.Fatalf("completion %v", comp)
			}
			cops, _ := comp.Value.AsList()
			for _, m := range cops {
				parts, _ := m.AsList()
				if f, _ := parts[0].AsString(); f == "r" && !parts[2].IsNil() {
					if _, isList := parts[2].AsList(); isList != (c.kind == Lists) {
						t.Fatalf("%s: read value %s", c.name, parts[2])
					}
				}
			}
		}
		if len(last) <= 3 || len(lengths) != 4 {
			t.Errorf("%s: %d keys used (want rotation past 3), lengths %v", c.name, len(last), lengths)
		}
		mem.err = Definite(errors.New("40001"))
		if c := wk.Do(context.Background(), wk.Next(rng)); c.Type != history.Fail {
			t.Errorf("definite error: %v, want fail", c.Type)
		}
		mem.err = errors.New("connection lost")
		if c := wk.Do(context.Background(), wk.Next(rng)); c.Type != history.Info {
			t.Errorf("unknown error: %v, want info", c.Type)
		}
	}
}

// Indefinite drops the Definite mark and keeps what the error wraps.
func TestIndefinite(t *testing.T) {
	base := errors.New("unavailable")
	err := Indefinite(fmt.Errorf("step 2: %w", Definite(fmt.Errorf("read: %w", base))))
	if IsDefinite(err) || !errors.Is(err, base) || err.Error() != "step 2: read: unavailable" {
		t.Fatalf("Indefinite = %q (definite %v, is base %v)", err, IsDefinite(err), errors.Is(err, base))
	}
	if Indefinite(nil) != nil || Indefinite(base) != base {
		t.Fatal("Indefinite changed an error without a mark")
	}
}

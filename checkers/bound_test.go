package checkers

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

// Issue 10 case 13: a huge input value, key or function is never echoed
// whole into a reason.
func TestReasonsBoundQuotedInput(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name    string
		checker Checker
		build   func(b *wkHist)
	}{
		{"linearizable value", Linearizable{}, func(b *wkHist) {
			b.op(0, "write", "", history.Str(big), history.OK, wkNil)
		}},
		{"linearizable key", Linearizable{}, func(b *wkHist) {
			b.op(0, "write", big, history.Str("a"), history.OK, wkNil)
		}},
		{"linearizable f", Linearizable{}, func(b *wkHist) {
			b.op(0, big, "", wkInt(1), history.OK, wkNil)
		}},
		{"kv value", Linearizable{Model: ModelKV}, func(b *wkHist) {
			b.op(0, "put", "k", history.List(history.Str(big)), history.OK, wkNil)
		}},
		{"set value", &Set{}, func(b *wkHist) {
			b.op(0, "add", "s", history.Str(big), history.OK, wkNil)
		}},
		{"counter f", Counter{}, func(b *wkHist) {
			b.op(0, big, "c", wkInt(1), history.OK, wkNil)
		}},
		{"session value", &Session{}, func(b *wkHist) {
			b.op(0, "write", "k", history.Str(big), history.OK, wkNil)
		}},
		{"lost-update value", LostUpdate{}, func(b *wkHist) {
			b.op(0, "rmw", "k", wkNil, history.OK, history.Str(big))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newWkHist()
			tc.build(b)
			res := wkRun(t, tc.checker, b)
			if res.Verdict != Unknown {
				t.Fatalf("verdict %s (%.300s)", res.Verdict, res.Reason)
			}
			if n := len(res.Reason); n > 1000 {
				t.Fatalf("reason of %d bytes: %.300s...", n, res.Reason)
			}
		})
	}
}

// Issue 10 case 12: the model of a history comes from its operations.
func TestChooseModel(t *testing.T) {
	load := func(path string) *history.History {
		h, _, err := history.Load(filepath.Join("..", "testdata", "porcupine", path), history.FormatAuto)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	for _, tc := range []struct {
		name string
		h    *history.History
		want Model
		fs   string
	}{
		{"porcupine kv", load("kv/c01-ok.txt"), ModelKV, "append,get,put"},
		{"jepsen etcd", load("etcd/etcd_000.log"), ModelCASRegister, "cas,read,write"},
		{"no client operation", &history.History{}, ModelCASRegister, ""},
	} {
		c, err := ChooseModel(tc.h)
		if err != nil || c.Model != tc.want || strings.Join(c.Fs, ",") != tc.fs {
			t.Errorf("%s: %+v, %v; want %s from %s", tc.name, c, err, tc.want, tc.fs)
		}
	}
	b := newWkHist()
	b.op(0, "read", "k", wkNil, history.OK, wkNil)
	b.op(0, "put", "k", history.Str("a"), history.OK, wkNil)
	if c, err := ChooseModel(&b.h); err == nil || !strings.Contains(err.Error(), `"put", "read"`) || !strings.Contains(err.Error(), "kv: get, put, append") {
		t.Errorf("read and put: %+v, %v", c, err)
	}
}

package history

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const porcupine = "../testdata/porcupine"

func TestJepsenLogEtcd(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(porcupine, "etcd", "etcd_*.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 103 {
		t.Fatalf("%d etcd logs, want 103", len(files))
	}
	for _, path := range files {
		for _, format := range []Format{FormatAuto, FormatJepsenLog} {
			h, info, err := Load(path, format)
			if filepath.Base(path) == "etcd_095.log" {
				if !errors.Is(err, ErrEmptyHistory) || !strings.Contains(err.Error(), "empty history") {
					t.Fatalf("%s: error %v, want an empty history error", path, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s (%s): %v", path, format, err)
			}
			if err := h.Validate(); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			data, _ := os.ReadFile(path)
			if lines := strings.Count(string(data), "\n"); info.Lines != lines || len(h.Ops) != lines || info.Truncated {
				t.Fatalf("%s: %d ops, info %+v, want %d lines", path, len(h.Ops), info, lines)
			}
			for i := range h.Ops {
				op := &h.Ops[i]
				if op.Time != int64(i) || op.Key != "" || !op.IsClient() {
					t.Fatalf("%s: op %v: time %d key %q", path, op, op.Time, op.Key)
				}
				switch op.F {
				case "read", "write", "cas":
				default:
					t.Fatalf("%s: op %v: f %q", path, op, op.F)
				}
				if op.F == "cas" {
					if l, ok := op.Value.AsInts(); !ok || len(l) != 2 {
						t.Fatalf("%s: cas value %v", path, op.Value)
					}
				}
				if _, isStr := op.Value.AsString(); isStr {
					t.Fatalf("%s: op %v: a keyword leaked into the value", path, op)
				}
			}
		}
	}
}

func TestJepsenLogEvents(t *testing.T) {
	log := strings.Join([]string{
		"INFO  jepsen.core - Running test",
		"INFO  jepsen.util - 2\t:invoke\t:cas\t[1 4]",
		"INFO  jepsen.util - 1\t:invoke\t:write\t3",
		"INFO  jepsen.util - :nemesis\t:info\t:start\tnil",
		"INFO  jepsen.util - 0\t:invoke\t:read\tnil",
		"INFO  jepsen.util - 1   :info   :write  :timed-out", // spaces, like etcd_100
		"INFO  jepsen.util - :nemesis\t:info\t:start\t{\"n1\" #{\"n2\"}, :x 1.5}",
		"INFO  jepsen.util - 0\t:fail\t:read\t:timed-out",
		"2\t:fail\t:cas\t[1 4]", // the bare tab format
		"\tat clojure.core$eval.invoke(core.clj:3202)",
		"INFO  jepsen.util - 3\t:invoke\t:write\t\"x y\"",
		"INFO  jepsen.util - 3\t:ok\t:write\t\"x y\"\r",
		"INFO  jepsen.util - 5\t:invoke\t:txn\t[[:r 1 nil] [:append 1 2]]",
		"",
	}, "\n")
	h, info, err := ReadJepsenLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if info.Lines != 13 || info.Truncated {
		t.Fatalf("info %+v", info)
	}
	want := []Op{
		{Type: Invoke, Process: 2, F: "cas", Value: Ints(1, 4)},
		{Type: Invoke, Process: 1, F: "write", Value: Int(3)},
		{Type: Info, Process: Nemesis, F: "start"},
		{Type: Invoke, Process: 0, F: "read"},
		{Type: Info, Process: 1, F: "write", Value: Int(3), Error: "timed-out"},
		{Type: Info, Process: Nemesis, F: "start", Value: Str(`{"n1" #{"n2"}, :x 1.5}`)},
		{Type: Fail, Process: 0, F: "read", Error: "timed-out"},
		{Type: Fail, Process: 2, F: "cas", Value: Ints(1, 4)},
		{Type: Invoke, Process: 3, F: "write", Value: Str("x y")},
		{Type: OK, Process: 3, F: "write", Value: Str("x y")},
		{Type: Invoke, Process: 5, F: "txn", Value: List(List(Str("r"), Int(1), Nil()), List(Str("append"), Int(1), Int(2)))},
	}
	for i := range want {
		want[i].Index, want[i].Time = i, int64(i)
	}
	sameOps(t, h.Ops, want)
}

func TestJepsenLogErrors(t *testing.T) {
	for _, tc := range []struct{ name, input, want string }{
		{"bad value", "0\t:invoke\t:cas\t[1 4\n0\t:ok\t:cas\t[1 4]\n", "jepsen log line 1: value \"[1 4\""},
		{"unsupported value", "1\t:invoke\t:read\tnil\n1\t:ok\t:read\t{:a 1}\n", "jepsen log line 2: value {:a 1}: unsupported map"},
		{"no function", "INFO  jepsen.util - 1\t:invoke\n1\t:ok\t:read\tnil\n", "jepsen log line 1: event has no function"},
		{"huge process", "99999999999\t:invoke\t:read\tnil\n", "jepsen log line 1: process 99999999999"},
		{"invalid pairing", "1\t:ok\t:read\tnil\n", "invalid jepsen log history: history: op 0: process 1 completes read with no pending invocation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadJepsenLog(strings.NewReader(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestJepsenLogTruncated(t *testing.T) {
	log := "0\t:invoke\t:cas\t[1 4]\n0\t:ok\t:cas\t[1 "
	h, info, err := ReadJepsenLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if !info.Truncated || info.TruncatedLine != 2 || info.Lines != 2 || len(h.Ops) != 1 {
		t.Fatalf("info %+v, %d ops", info, len(h.Ops))
	}
}

package history

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

const elleData = "../testdata/elle"

// TestEDNTxnImport reads Elle's transaction forms: keywords as names,
// integer and vector keys, nil reads.
func TestEDNTxnImport(t *testing.T) {
	in := `{:index 0, :type :invoke, :process 0, :f :txn, :value [[:append :x 1] [:r 253 nil] [:r [:anti 9] nil]]}
{:index 1, :type :ok, :process 0, :f :txn, :value [[:append :x 1] [:r 253 [1 3 4]] [:r [:anti 9] nil]]}
`
	h, info, err := ReadEDN(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if info.SynthesizedInvokes != 0 || info.RemappedProcesses != 0 {
		t.Fatalf("info %+v", info)
	}
	want := List(
		List(Str("append"), Str("x"), Int(1)),
		List(Str("r"), Int(253), Ints(1, 3, 4)),
		List(Str("r"), List(Str("anti"), Int(9)), Nil()),
	)
	if !h.Ops[1].Value.Equal(want) || h.Ops[1].F != "txn" {
		t.Fatalf("got %v, want %v", h.Ops[1].Value, want)
	}
}

// TestEDNElleCompletionsOnly: completions without invocations get one
// inserted before each (reads nil), and the original indexes are kept.
func TestEDNElleCompletionsOnly(t *testing.T) {
	in := `{:index 0, :type :ok, :process 0, :f :txn, :value [[:append :x 1] [:r :y [1]]]}
{:index 1, :type :ok, :process 1, :f :txn, :value [[:append :y 1]]}
`
	h, info, err := ReadEDN(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Ops) != 4 || info.SynthesizedInvokes != 2 || len(info.Warnings()) != 1 {
		t.Fatalf("%d ops, info %+v", len(h.Ops), info)
	}
	inv := h.Ops[0]
	if inv.Type != Invoke || inv.Process != 0 || inv.Extra["synthetic"] != "invoke" ||
		!inv.Value.Equal(List(List(Str("append"), Str("x"), Int(1)), List(Str("r"), Str("y"), Nil()))) {
		t.Fatalf("synthesized %v %v", inv, inv.Extra)
	}
	if h.Ops[1].Extra["jepsen-index"] != "0" || h.Ops[3].Extra["jepsen-index"] != "1" {
		t.Fatalf("jepsen-index %v %v", h.Ops[1].Extra, h.Ops[3].Extra)
	}
}

// TestEDNElleConcurrentProcess: several invocations in flight on one
// process move to new processes, completions matched oldest first.
func TestEDNElleConcurrentProcess(t *testing.T) {
	h, info, err := Load(filepath.Join(elleData, "la-038-unobserved-write.edn"), FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	if info.RemappedProcesses != 4 {
		t.Fatalf("info %+v", info)
	}
	pairs, err := h.Pairs()
	if err != nil || len(pairs) != 5 {
		t.Fatalf("pairs %v %v", pairs, err)
	}
	for _, p := range pairs {
		a, b := h.Ops[p.Invoke], h.Ops[p.Complete]
		if b.Index-a.Index != 5 || a.Process != b.Process {
			t.Fatalf("pair %v %v", a, b)
		}
	}
}

// TestElleFilesLoad: every history of Elle's suite loads, except the
// paper example, whose ops have no :f or :process (Elle ignores them).
func TestElleFilesLoad(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(elleData, "*.edn"))
	if len(files) != 83 {
		t.Fatalf("%d files, want 83", len(files))
	}
	for _, f := range files {
		h, _, err := Load(f, FormatAuto)
		if strings.Contains(f, "la-053") {
			if err == nil {
				t.Fatalf("%s loaded", f)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got, _ := roundTripEDN(t, h)
		sameOps(t, got.Ops, h.Ops)
		var j bytes.Buffer
		if err := WriteJSONL(&j, h); err != nil {
			t.Fatal(err)
		}
		back, _, err := ReadJSONL(&j)
		if err != nil {
			t.Fatal(err)
		}
		sameOps(t, back.Ops, h.Ops)
	}
}

// TestWriteEDNTxn: micro-ops go out in Elle's form.
func TestWriteEDNTxn(t *testing.T) {
	h := &History{Ops: []Op{
		{Type: Invoke, Process: 0, F: "txn", Value: List(List(Str("append"), Int(7), Int(3)), List(Str("r"), Str("x"), Nil()), List(Str("w"), Str("odd key"), Int(1)))},
		{Time: 1, Type: OK, Process: 0, F: "txn", Value: List(List(Str("append"), Int(7), Int(3)), List(Str("r"), Str("x"), Ints(1, 2)), List(Str("w"), Str("odd key"), Int(1)))},
	}}
	h.Reindex()
	got, text := roundTripEDN(t, h)
	sameOps(t, got.Ops, h.Ops)
	if !strings.Contains(text, `:f :txn, :value [[:append 7 3] [:r :x [1 2]] [:w "odd key" 1]]}`) {
		t.Fatalf("exported\n%s", text)
	}
	var j bytes.Buffer
	if err := WriteJSONL(&j, h); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(j.String(), `"value":[["append",7,3],["r","x",[1,2]],["w","odd key",1]]`) {
		t.Fatalf("jsonl\n%s", j.String())
	}
}

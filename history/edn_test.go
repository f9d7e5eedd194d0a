package history

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestEDNKV(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(porcupine, "kv", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Fatalf("%d kv files, want 6", len(files))
	}
	for _, path := range files {
		for _, format := range []Format{FormatAuto, FormatEDN} {
			h, info, err := Load(path, format)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if err := h.Validate(); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(path)
			if lines := strings.Count(string(data), "\n"); info.Lines != lines || len(h.Ops) != lines {
				t.Fatalf("%s: %d ops, info %+v, want %d lines", path, len(h.Ops), info, lines)
			}
			for i := range h.Ops {
				op := &h.Ops[i]
				if op.Time != int64(i) || op.Key == "" || op.Extra != nil {
					t.Fatalf("%s: op %v time %d extra %v", path, op, op.Time, op.Extra)
				}
				switch op.F {
				case "get", "put", "append":
				default:
					t.Fatalf("%s: op %v", path, op)
				}
				if _, ok := op.Value.AsString(); !ok && !op.Value.IsNil() {
					t.Fatalf("%s: op %v: value %v", path, op, op.Value)
				}
			}
		}
	}
}

func TestEDNForms(t *testing.T) {
	want := []Op{
		{Index: 0, Time: 5, Type: Invoke, Process: 0, F: "cas", Value: Ints(1, 2)},
		{Index: 1, Time: 9, Type: Info, Process: 0, F: "cas", Value: Ints(1, 2), Error: "timed-out"},
		{Index: 2, Time: 9, Type: Info, Process: Nemesis, F: "start", Value: Str(`{"n1" ["n2" "n3"]}`), Extra: map[string]string{"jepsen-index": "7"}},
	}
	inputs := map[string]string{
		"one map a line": `{:index 0, :time 5, :type :invoke, :process 0, :f :cas, :value [1 2]}
{:index 1, :time 9, :type :info, :process 0, :f :cas, :value :timed-out}
{:index 7, :type :info, :process :nemesis, :f :start, :value {"n1" ["n2" "n3"]}}
`,
		"a vector over many lines": `; a Jepsen history
[{:index 0,
  :time 5,
  :type :invoke, :process 0, :f :cas, :value (1 2)}
 {:index 1 :time 9 :type :info :process 0 :f :cas :value [1 2] :error :timed-out}
 #_{:this :is :discarded :too}
 {:index 7 :type :info :process :nemesis :f :start :value {"n1" ["n2" "n3"]}}]`,
		"tagged record literals": `#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 0, :f :cas, :value [1 2]}
#jepsen.history.Op{:index 1, :time 9, :type :info, :process 0, :f :cas, :value [1 2], :error "timed-out"}
#jepsen.history.Op {:index 7, :type :info, :process :nemesis, :f "start", :value {"n1" ["n2" "n3"]}}
`,
		"a list of tagged ops": `(#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 0, :f :cas, :value #{1 2}}
#jepsen.history.Op{:index 1, :time 9, :type :info, :process 0, :f :cas, :value [1 2], :error :timed-out}
#jepsen.history.Op{:index 7, :type :info, :process :nemesis, :f :start, :value {"n1" ["n2" "n3"]}})`,
	}
	for name, input := range inputs {
		t.Run(name, func(t *testing.T) {
			for _, r := range []*strings.Reader{strings.NewReader(input)} {
				h, info, err := ReadEDN(iotest.HalfReader(r))
				if err != nil {
					t.Fatal(err)
				}
				if info.Truncated || info.Lines != strings.Count(strings.TrimSuffix(input, "\n"), "\n")+1 {
					t.Fatalf("info %+v", info)
				}
				sameOps(t, h.Ops, want)
			}
			if f, err := DetectFormat([]byte(input)); err != nil || f != FormatEDN {
				t.Fatalf("detected %q, %v", f, err)
			}
		})
	}
}

func TestEDNFields(t *testing.T) {
	input := `{:type :invoke, :process 3, :f :txn, :key 12, :node :n1, :value [[:r 1 nil] [:w 2 "s"] \a], :retry 2, :meta {:a 1}, "str key" "v", :note "n"}
{:type :ok, :process 3, :f :txn, :key :k, :node "n2", :value nil, :error [:conflict "x"], :tag #inst "2024-01-01"}
`
	h, _, err := ReadEDN(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	want := []Op{
		{Index: 0, Time: 0, Type: Invoke, Process: 3, F: "txn", Key: "12", Node: "n1",
			Value: List(List(Str("r"), Int(1), Nil()), List(Str("w"), Int(2), Str("s")), Str("a")),
			Extra: map[string]string{"retry": "2", "meta": "{:a 1}", "str key": "v", "note": "n"}},
		{Index: 1, Time: 1, Type: OK, Process: 3, F: "txn", Key: "k", Node: "n2",
			Error: `[:conflict "x"]`, Extra: map[string]string{"tag": `#inst "2024-01-01"`}},
	}
	sameOps(t, h.Ops, want)
}

func TestEDNTimes(t *testing.T) {
	// Ops without a time among ops with times take the previous time.
	input := `{:type :invoke, :process 0, :f :read, :time 10}
{:type :ok, :process 0, :f :read, :value 1}
{:type :invoke, :process 0, :f :read, :time 20}
`
	h, _, err := ReadEDN(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{10, 10, 20} {
		if h.Ops[i].Time != want {
			t.Fatalf("op %d time %d, want %d", i, h.Ops[i].Time, want)
		}
	}
}

func TestEDNTruncated(t *testing.T) {
	input := "{:type :invoke, :process 0, :f :read}\n{:type :ok, :process 0, :f :read, :value [1 2"
	h, info, err := ReadEDN(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if !info.Truncated || info.TruncatedLine != 2 || info.Lines != 2 || len(h.Ops) != 1 {
		t.Fatalf("info %+v, %d ops", info, len(h.Ops))
	}
	// Inside a vector, it is recovered the same way.
	h, info, err = ReadEDN(strings.NewReader("[" + input))
	if err != nil || !info.Truncated || info.TruncatedLine != 2 || len(h.Ops) != 1 {
		t.Fatalf("in a vector: %v, info %+v, %d ops", err, info, len(h.Ops))
	}
	// With a newline after it, the op started on an earlier line than the
	// cut: an error.
	if _, _, err := ReadEDN(strings.NewReader(input + "\n")); err == nil {
		t.Fatalf("%q: no error", input+"\n")
	}
}

func TestEDNErrors(t *testing.T) {
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	for _, tc := range []struct{ name, input, want string }{
		{"not a map", "{:type :invoke, :process 0, :f :read}\n42\n", "edn line 2: expected an op map, got an integer"},
		{"missing type", "{:process 0, :f :read}", "edn line 1: op has no :type"},
		{"missing f", "{:type :ok, :process 0}", "edn line 1: op has no :f"},
		{"missing process", "{:type :ok, :f :read}", "edn line 1: op has no :process"},
		{"bad type", "{:type :done, :process 0, :f :read}", ":type must be"},
		{"bad process", "{:type :ok, :process -1, :f :read}", ":process must be"},
		{"bad time", "{:type :ok, :process 1, :f :read, :time 1.5}", ":time must be an integer"},
		{"duplicate key", "{:type :ok, :type :ok, :process 1, :f :read}", "duplicate key :type"},
		{"duplicate extra", `{:type :ok, :x 1, "x" 2, :process 1, :f :read}`, `duplicate key "x"`},
		{"odd map", "\n\n{:type :ok :process}", "edn line 3: map has a key without a value"},
		{"unsupported value", "{:type :invoke, :process 0, :f :read, :value true}", "edn line 1: :value: unsupported boolean true"},
		{"float value", "{:type :invoke, :process 0, :f :read, :value 1.5}", "unsupported float 1.5"},
		{"mismatched", "[{:type :invoke, :process 0, :f :read)]", `edn line 1: ')' closes a map`},
		{"stray closer", "{:type :invoke, :process 0, :f :read}\n]", `edn line 2: unexpected ']'`},
		{"eof in multi-line map", "{:type :invoke,\n :process 0", "input ends inside a map started at line 1"},
		{"unsupported macro", "{:type :invoke, :process 0, :f 'read}", "unsupported reader macro"},
		{"regex", `{:type :invoke, :process 0, :f #"r"}`, "unsupported dispatch #\""},
		{"bad escape", `{:type :invoke, :process 0, :f "\q"}`, `unsupported escape \q`},
		{"octal", "{:type :invoke, :process 010, :f :read}", "unsupported octal integer"},
		{"overflow", "{:type :invoke, :process 0, :f :read, :value 99999999999999999999}", "does not fit in 64 bits"},
		{"too deep", "{:type :invoke, :process 0, :f :read, :value " + deep + "}", "nested deeper than 64"},
		{"value too deep", "{:type :invoke, :process 0, :f :read, :value " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "}", "value nested deeper than 32"},
		{"bare keyword", ":foo", "expected an op map, got a keyword"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadEDN(strings.NewReader(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	boom := errors.New("boom")
	if _, _, err := ReadEDN(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Fatalf("read error %v", err)
	}
}

func TestEDNPrintParse(t *testing.T) {
	// Printing a form and parsing it again gives the same text.
	for _, s := range []string{
		`nil`, `true`, `-12`, `1.5e3M`, `##Inf`, `"a\"b\\c\n\t\u0001"`, `\a`, `\newline`, `\u00e9`, `\(`,
		`:ns/kw`, `sym`, `[1 (2 #{3}) {:a [nil]}]`, `#inst "2020"`, `#my.Rec{:a 1, :b "x"}`, `::a`,
	} {
		n, err := parseEDNForm(s, 0)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		n2, err := parseEDNForm(n.String(), 0)
		if err != nil {
			t.Fatalf("%s printed as %s: %v", s, n, err)
		}
		if n2.String() != n.String() {
			t.Fatalf("%s: printed %s, then %s", s, n, n2)
		}
	}
	// A reader that is already buffered is used as is.
	br := bufio.NewReader(strings.NewReader("{:type :invoke, :process 0, :f :read}\n"))
	if h, _, err := ReadEDN(br); err != nil || len(h.Ops) != 1 {
		t.Fatalf("%v %v", h, err)
	}
}

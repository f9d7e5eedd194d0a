package history

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// seedLines is how much of a test data file makes a seed: small seeds keep
// the fuzzer fast (it minimises every new input it finds interesting).
const seedLines = 40

// addSeeds adds the start of the project test data files matching globs,
// and small hand-made inputs.
func addSeeds(f *testing.F, globs []string, extra ...string) {
	for _, g := range globs {
		files, err := filepath.Glob(filepath.Join(porcupine, g))
		if err != nil {
			f.Fatal(err)
		}
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(headLines(data, seedLines))
		}
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// checkImported checks what an importer accepted: it is valid, and it
// survives both export formats.
func checkImported(t *testing.T, h *History, info ReadInfo) {
	t.Helper()
	if err := h.Validate(); err != nil {
		t.Fatalf("accepted an invalid history: %v", err)
	}
	if info.Truncated && info.TruncatedLine != info.Lines {
		t.Fatalf("truncated line %d of %d", info.TruncatedLine, info.Lines)
	}
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, h); err != nil {
		t.Fatal(err)
	}
	back, _, err := ReadJSONL(&buf)
	if err != nil {
		t.Fatalf("jsonl export does not read back: %v\n%s", err, buf.String())
	}
	if len(back.Ops) != len(h.Ops) {
		t.Fatalf("jsonl export: %d ops, want %d", len(back.Ops), len(h.Ops))
	}

	buf.Reset()
	if err := WriteEDN(&buf, h); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	back, _, err = ReadEDN(&buf)
	if err != nil {
		t.Fatalf("edn export does not read back: %v\n%s", err, text)
	}
	if len(back.Ops) != len(h.Ops) {
		t.Fatalf("edn export: %d ops, want %d", len(back.Ops), len(h.Ops))
	}
	for i := range h.Ops {
		want := h.Ops[i]
		if oldV, newV, ok := notSwapped(&want); ok {
			want.Type, want.Value = Fail, List(oldV, newV)
		}
		if !sameOp(back.Ops[i], want) {
			t.Fatalf("edn round trip of op %d:\n got %#v\nwant %#v\nexport: %s", i, back.Ops[i], want, text)
		}
	}
}

// headLines returns the first n lines of data.
func headLines(data []byte, n int) []byte {
	end := 0
	for ; n > 0 && end < len(data); n-- {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			return data
		}
		end += i + 1
	}
	return data[:end]
}

func FuzzReadJSONL(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, registerHistory()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-7])
	for _, path := range []string{"etcd/etcd_000.log", "kv/c01-ok.txt"} {
		h, _, err := Load(filepath.Join(porcupine, path), FormatAuto)
		if err != nil {
			f.Fatal(err)
		}
		buf.Reset()
		if err := WriteJSONL(&buf, h); err != nil {
			f.Fatal(err)
		}
		f.Add(headLines(buf.Bytes(), seedLines))
	}
	f.Add([]byte(`{"index":0,"time":0,"type":"invoke","process":"nemesis","f":"start","value":[[[]]],"extra":{}}`))
	f.Add([]byte("\n\n{\"index\":0}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, info, err := ReadJSONL(bytes.NewReader(data))
		if err != nil {
			return
		}
		checkImported(t, h, info)
		// Our own format must round-trip exactly.
		var buf bytes.Buffer
		if err := WriteJSONL(&buf, h); err != nil {
			t.Fatal(err)
		}
		back, _, err := ReadJSONL(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for i := range h.Ops {
			if !sameOp(back.Ops[i], h.Ops[i]) {
				t.Fatalf("jsonl round trip of op %d:\n got %#v\nwant %#v", i, back.Ops[i], h.Ops[i])
			}
		}
	})
}

func FuzzJepsenLog(f *testing.F) {
	addSeeds(f, []string{"etcd/etcd_00[0-3].log", "etcd/etcd_10[0-2].log"},
		"INFO  jepsen.util - :nemesis\t:info\t:start\t{\"n1\" #{\"n2\"}}\n",
		"0\t:invoke\t:cas\t[1 4]\n0\t:info\t:cas\t:timed-out\n",
		"1 :invoke :txn [[:r 1 nil] [:append 1 \"x\"]]\n1 :ok :txn [[:r 1 [1 2]] [:append 1 \"x\"]]",
		"2\t:invoke\t:cas\t[1 2]\n2\t:ok\t:cas\t[1 2 \"not-swapped\"]\n",
		"0\t:invoke\t:write\t3\n0\t:info\t:write\t3\t[:timeout \"socket closed\"]\n",
		jepsen2017Log, maelstrom2021Log,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, info, err := ReadJepsenLog(bytes.NewReader(data))
		if err != nil {
			return
		}
		checkImported(t, h, info)
	})
}

func FuzzEDN(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteEDN(&buf, registerHistory()); err != nil {
		f.Fatal(err)
	}
	addSeeds(f, []string{"kv/c01-*.txt"},
		buf.String(),
		`[{:index 0, :time 5, :type :invoke, :process 0, :f :cas, :value (1 2)}
 #_{:discarded 1} {:index 1 :time 9 :type :info :process 0 :f :cas :value :timed-out}]`,
		`#jepsen.history.Op{:index 3, :type :info, :process :nemesis, :f :start, :value {"n1" #{"n2"}}, :x \a, :y 1.5e3, :z ##NaN}`,
		`{:type :invoke, :process 0, :f "r", :value "a\"b\u00e9", :key 3, :error [:e "x"], "k" #inst "2020"} ; comment`,
		"{:type :invoke, :process 0, :f :read}\n{:type :ok, :process 0, :f :read, :value [1 2",
		"[{:type :invoke, :process 0, :f :read}\n {:type :ok, :process 0, :f :read, :value 1",
		timeBackEDN,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, info, err := ReadEDN(bytes.NewReader(data))
		if err != nil {
			return
		}
		checkImported(t, h, info)
	})
}

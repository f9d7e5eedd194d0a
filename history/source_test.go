package history_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A JSONLFile streams exactly the ops ReadJSONL loads, with the same
// ReadInfo, and Last is the last of them.
func TestJSONLFileScansWhatReadJSONLLoads(t *testing.T) {
	h, err := histgen.Register(rand.New(rand.NewPCG(3, 4)), histgen.Config{Ops: 5000, Keys: 3, Processes: 10, InfoFraction: 0.05, ReadWeight: 1, WriteWeight: 1, CASWeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := history.WriteJSONL(&b, h); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write leaves an unterminated last line: dropped.
	path := writeFile(t, b.String()+"\n\n"+`{"index":`)
	want, wantInfo, err := history.ReadJSONL(strings.NewReader(b.String() + "\n\n" + `{"index":`))
	if err != nil {
		t.Fatal(err)
	}
	src, err := history.OpenJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []history.Op
	for range 2 { // a Source can be read again
		got = got[:0]
		if err := src.Scan(func(op *history.Op) error { got = append(got, *op); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want.Ops) {
			t.Fatalf("scanned %d ops, loaded %d", len(got), len(want.Ops))
		}
		for i := range got {
			g, w := got[i], want.Ops[i]
			if !g.Value.Equal(w.Value) {
				t.Fatalf("op %d: scanned value %v, loaded %v", i, g.Value, w.Value)
			}
			g.Value, w.Value = history.Nil(), history.Nil()
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("op %d: scanned %#v, loaded %#v", i, got[i], want.Ops[i])
			}
		}
	}
	info := src.Info()
	if info.Format != history.FormatJSONL || info.Lines != wantInfo.Lines || !info.Truncated || info.TruncatedLine != wantInfo.TruncatedLine {
		t.Errorf("info %+v, ReadJSONL's %+v", info, wantInfo)
	}
	last, ok, err := src.Last()
	if err != nil || !ok || last.String() != want.Ops[len(want.Ops)-1].String() || last.Time != want.Ops[len(want.Ops)-1].Time {
		t.Errorf("Last = %v %v %v, want %v", last, ok, err, want.Ops[len(want.Ops)-1])
	}
}

// Scan checks what Validate checks, one op at a time, and names the line.
func TestJSONLFileScanValidates(t *testing.T) {
	for name, c := range map[string]struct{ lines, want string }{
		"second invoke": {`{"index":0,"time":1,"type":"invoke","process":1,"f":"read","value":null}
{"index":1,"time":2,"type":"invoke","process":1,"f":"read","value":null}
`, "line 2: op 1: process 1 invokes while op 0 is still pending"},
		"invoke after info": {`{"index":0,"time":1,"type":"invoke","process":1,"f":"read","value":null}
{"index":1,"time":2,"type":"info","process":1,"f":"read","value":null}
{"index":2,"time":3,"type":"invoke","process":1,"f":"read","value":null}
`, "line 3: op 2: process 1 invokes again after its op 1 ended info"},
		"orphan completion": {`{"index":0,"time":1,"type":"ok","process":1,"f":"read","value":null}
`, "line 1: op 0: process 1 completes read with no pending invocation"},
		"index": {`{"index":3,"time":1,"type":"invoke","process":1,"f":"read","value":null}
`, "line 1: op index 3, but it is op number 0"},
	} {
		src, err := history.OpenJSONL(writeFile(t, c.lines))
		if err != nil {
			t.Fatal(err)
		}
		err = src.Scan(func(*history.Op) error { return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
		if _, _, err := history.ReadJSONL(strings.NewReader(c.lines)); err == nil {
			t.Errorf("%s: ReadJSONL accepts what Scan refuses", name)
		}
	}
}

// Last reads backwards over blank lines and an unterminated last line,
// and across chunk boundaries (a line longer than the chunk).
func TestJSONLFileLast(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	for name, c := range map[string]struct {
		content string
		ok      bool
		index   int
	}{
		"empty":        {"", false, 0},
		"blank":        {"\n \n\n", false, 0},
		"unterminated": {`{"index":0,"time":1,"type":"invoke","process":1,"f":"read","value":null}`, false, 0},
		"one":          {`{"index":0,"time":1,"type":"invoke","process":1,"f":"read","value":null}` + "\n\n", true, 0},
		"long": {`{"index":0,"time":1,"type":"invoke","process":1,"f":"write","value":"a"}` + "\n" +
			`{"index":1,"time":2,"type":"ok","process":1,"f":"write","value":"` + long + `"}` + "\n" + `{"index":2,"ti`, true, 1},
	} {
		src, err := history.OpenJSONL(writeFile(t, c.content))
		if err != nil {
			t.Fatal(err)
		}
		op, ok, err := src.Last()
		if err != nil || ok != c.ok || (ok && op.Index != c.index) {
			t.Errorf("%s: Last = #%d %v %v, want #%d %v", name, op.Index, ok, err, c.index, c.ok)
		}
		n := 0
		if err := src.Scan(func(op *history.Op) error { n++; return nil }); err != nil || (n > 0) != c.ok {
			t.Errorf("%s: Scan saw %d ops (%v), Last says %v", name, n, err, c.ok)
		}
	}
}

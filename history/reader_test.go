package history

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// registerHistory is a small valid history using every field.
func registerHistory() *History {
	h := &History{Ops: []Op{
		{Time: 10, Type: Invoke, Process: 0, F: "write", Key: "a", Value: Int(1), Node: "n1"},
		{Time: 12, Type: Invoke, Process: 1, F: "cas", Key: "a", Value: Ints(1, 2)},
		{Time: 15, Type: Info, Process: Nemesis, F: "start", Value: Str("partition n1")},
		{Time: 20, Type: OK, Process: 0, F: "write", Key: "a", Value: Int(1), Node: "n1"},
		{Time: 25, Type: Info, Process: 1, F: "cas", Key: "a", Value: Ints(1, 2), Error: "timed-out",
			Extra: map[string]string{"retries": "2", "note": "said \"hi\"\n"}},
		{Time: 30, Type: Invoke, Process: 2, F: "read", Key: "a"},
		{Time: 31, Type: Invoke, Process: 3, F: "add", Key: "s", Value: List(Str("x"), Nil(), List())},
		{Time: 35, Type: OK, Process: 2, F: "read", Key: "a", Value: Int(2)},
		{Time: 36, Type: Fail, Process: 3, F: "add", Key: "s", Value: List(Str("x"), Nil(), List()), Error: "not enough replicas"},
		{Time: 40, Type: Invoke, Process: 4, F: "read", Key: "a"},
	}}
	h.Reindex()
	return h
}

func jsonl(t *testing.T, h *History) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, h); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadJSONLRoundTrip(t *testing.T) {
	want := registerHistory()
	data := jsonl(t, want)
	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(data),
		"one byte": iotest.OneByteReader(bytes.NewReader(data)),
	} {
		got, info, err := ReadJSONL(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if info != (ReadInfo{Lines: len(want.Ops)}) {
			t.Fatalf("%s: info %+v", name, info)
		}
		sameOps(t, got.Ops, want.Ops)
	}
}

func TestReadJSONLTruncated(t *testing.T) {
	want := registerHistory()
	data := jsonl(t, want)
	last := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
	// Every cut inside the last line, short of its closing brace, is a
	// crash in the middle of a write.
	for cut := last + 1; cut <= len(data)-2; cut++ {
		got, info, err := ReadJSONL(bytes.NewReader(data[:cut]))
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if !info.Truncated || info.TruncatedLine != len(want.Ops) || info.Lines != len(want.Ops) {
			t.Fatalf("cut at %d: info %+v", cut, info)
		}
		sameOps(t, got.Ops, want.Ops[:len(want.Ops)-1])
	}
	// Without only its newline, the last line is dropped too: a line
	// without its newline was being written.
	got, info, err := ReadJSONL(bytes.NewReader(data[:len(data)-1]))
	if err != nil || !info.Truncated || info.TruncatedLine != len(want.Ops) {
		t.Fatalf("no final newline: %v %+v", err, info)
	}
	sameOps(t, got.Ops, want.Ops[:len(want.Ops)-1])
}

func TestReadJSONLErrors(t *testing.T) {
	good := string(jsonl(t, registerHistory()))
	lines := strings.SplitAfter(good, "\n")
	for _, tc := range []struct {
		name, input, want string
	}{
		{"bad json mid-file", lines[0] + "{\"index\":1,\n" + strings.Join(lines[2:], ""), "jsonl line 2"},
		{"bad last line with newline", strings.Join(lines[:3], "") + "garbage\n", "jsonl line 4"},
		{"wrong index", lines[1], "jsonl line 1: op index 1, but it is op number 0"},
		{"unknown type", `{"index":0,"time":0,"type":"done","process":0,"f":"read","value":null}` + "\n", "jsonl line 1: op 0: unknown type"},
		{"missing f", `{"index":0,"time":0,"type":"invoke","process":0,"value":null}` + "\n", "jsonl line 1: op 0: missing f"},
		{"bad process", `{"index":0,"time":0,"type":"invoke","process":-3,"f":"read","value":null}` + "\n", "jsonl line 1"},
		{"float value", `{"index":0,"time":0,"type":"invoke","process":0,"f":"read","value":1.5}` + "\n", "jsonl line 1"},
		{"two values on a line", `{"index":0,"time":0,"type":"invoke","process":0,"f":"read","value":null} {}` + "\n", "jsonl line 1"},
		{"double invoke", lines[0] + strings.Replace(lines[0], `"index":0`, `"index":1`, 1), "still pending"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadJSONL(strings.NewReader(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestReadJSONLBlankAndLongLines(t *testing.T) {
	big := make([]Value, 300000) // a set read of ~2 MB, longer than any buffer
	for i := range big {
		big[i] = Int(int64(i))
	}
	want := &History{Ops: []Op{
		{Type: Invoke, Process: 0, F: "read", Key: "s"},
		{Time: 1, Type: OK, Process: 0, F: "read", Key: "s", Value: List(big...)},
	}}
	want.Reindex()
	data := jsonl(t, want)
	data = append([]byte("\n  \n"), data...)
	data = append(data, "\r\n\n"...)
	got, info, err := ReadJSONL(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if info.Lines != 6 || info.Truncated {
		t.Fatalf("info %+v", info)
	}
	sameOps(t, got.Ops, want.Ops)
}

func TestReadJSONLEmptyAndReadError(t *testing.T) {
	h, info, err := ReadJSONL(strings.NewReader(""))
	if err != nil || len(h.Ops) != 0 || info.Lines != 0 {
		t.Fatalf("empty input: %v %v %+v", h, err, info)
	}
	boom := errors.New("boom")
	_, _, err = ReadJSONL(iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Fatalf("read error %v, want %v", err, boom)
	}
}

package history

import (
	"bytes"
	"encoding/json"
	"testing"
	"unsafe"
)

// codecOps cover every field, escapes, nesting and the nemesis.
func codecOps() []Op {
	return []Op{
		{Index: 0, Time: 1, Type: Invoke, Process: 3, F: "cas", Key: "register:1", Value: Ints(3, 4)},
		{Index: 1, Time: 2, Type: OK, Process: 3, F: "cas", Key: "register:1", Value: List(Int(3), Int(4), Str("not-swapped")), Node: "n1"},
		{Index: 2, Time: 3, Type: Info, Process: 4, F: "write", Value: Int(-9), Error: `timed out "after" 2s\n`, Extra: map[string]string{"b": "2", "a": "é"}},
		{Index: 3, Time: 4, Type: Info, Process: Nemesis, F: "start-partition", Value: Str("n1 | n2,n3 <&>"), Extra: map[string]string{}},
		{Index: 4, Time: 5, Type: Fail, Process: 0, F: "read", Key: "k\u2028", Value: List(List(Int(1), List()), Nil(), Str(""))},
		{Index: 5, Time: 1 << 60, Type: OK, Process: 1<<31 - 1, F: "read", Value: Nil()},
	}
}

// The encoder writes what encoding/json writes, and the decoder reads
// back from it, and from encoding/json's own output, the same ops.
func TestCodecAgreesWithEncodingJSON(t *testing.T) {
	d := newDecoder()
	for _, op := range codecOps() {
		want, err := json.Marshal(&op)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalLine(&op)
		if err != nil {
			t.Fatal(err)
		}
		var a, b Op
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if !sameOp(a, b) {
			t.Fatalf("encoded\n %s\nencoding/json\n %s", got, want)
		}
		for _, line := range [][]byte{bytes.TrimSuffix(got, []byte("\n")), want} {
			var dec Op
			if err := d.decodeLine(line, &dec); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if !sameOp(dec, b) {
				t.Fatalf("decoded %s as\n %#v\nwant\n %#v", line, dec, b)
			}
		}
	}
}

// Lines the fast path does not take still decode, or fail, exactly as
// encoding/json decides.
func TestCodecFallback(t *testing.T) {
	d := newDecoder()
	for _, line := range []string{
		`{"Index":0,"time":1,"type":"invoke","process":0,"f":"read","value":null}`,
		`{ "index": 0, "time": 1, "type": "invoke", "process": 0, "f": "read" }`,
		`{"index":0,"time":1,"type":"invoke","process":0,"f":"read","value":null,"other":[1,{"x":2}]}`,
		`{"index":0,"time":1,"type":"invoke","process":0,"f":"read","f":"write"}`,
		`{"index":0,"time":1,"type":"invoke","process":0,"f":"r\u00e9ad","value":"\t"}`,
		`{"index":0,"time":1,"type":"invoke","process":0,"f":"read","value":1.5}`,
		`{"index":0,"time":1,"type":"invoke","process":-2,"f":"read"}`,
		`{"index":0,"time":1,"type":"invoke","process":0,"f":"read","value":[1,true]}`,
		`{"index":0,"time":1,"type":"invoke","process":0,"f":"read"} x`,
		`{"index":0,"time":1e3,"type":"invoke","process":0,"f":"read"}`,
		`{"index":0,"time":12345678901234567890,"type":"invoke","process":0,"f":"read"}`,
	} {
		var want Op
		wantErr := json.Unmarshal([]byte(line), &want)
		var got Op
		err := d.decodeLine([]byte(line), &got)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%s: error %v, encoding/json says %v", line, err, wantErr)
		}
		if err == nil && !sameOp(got, want) {
			t.Fatalf("%s: %#v, encoding/json says %#v", line, got, want)
		}
	}
}

// Decoded ops share the bytes of repeated strings.
func TestDecoderInterns(t *testing.T) {
	var buf bytes.Buffer
	ops := codecOps()[:2]
	if err := WriteJSONL(&buf, &History{Ops: ops}); err != nil {
		t.Fatal(err)
	}
	h, _, err := ReadJSONL(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := h.Ops[0].Key, h.Ops[1].Key; a != b || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("keys %q and %q are not shared", a, b)
	}
}

// FuzzDecodeLine: the fast decoder and encoding/json agree on every line.
func FuzzDecodeLine(f *testing.F) {
	for _, op := range codecOps() {
		line, _ := marshalLine(&op)
		f.Add(bytes.TrimSuffix(line, []byte("\n")))
	}
	f.Add([]byte(`{"index":0,"time":1,"type":"invoke","process":0,"f":"read","value":[[[]]]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var want Op
		wantErr := json.Unmarshal(line, &want)
		var got Op
		err := newDecoder().decodeLine(line, &got)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, encoding/json says %v", line, err, wantErr)
		}
		if err == nil && !sameOp(got, want) {
			t.Fatalf("%q: %#v, encoding/json says %#v", line, got, want)
		}
	})
}

package history

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// roundTripEDN exports h, imports the result and returns it.
func roundTripEDN(t testing.TB, h *History) (*History, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteEDN(&buf, h); err != nil {
		t.Fatal(err)
	}
	got, info, err := ReadEDN(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("re-import: %v\n%s", err, buf.String())
	}
	if info.Truncated || info.Lines != len(h.Ops) {
		t.Fatalf("re-import info %+v", info)
	}
	return got, buf.String()
}

func TestWriteEDNRoundTrip(t *testing.T) {
	h := registerHistory()
	h.Ops[4].Extra["code"] = ":timeout"
	h.Ops[4].Extra["type"] = "shadowed standard key"
	h.Ops[4].Extra["weird key"] = "[1 2]"
	h.Ops[4].Extra["x"] = "{:a 1}"
	h.Ops[4].Extra["y"] = "{:a   1}" // not canonical: stays a string
	h.Ops[1].F = "odd f"
	got, text := roundTripEDN(t, h)
	sameOps(t, got.Ops, h.Ops)
	for _, want := range []string{
		"{:index 0, :time 10, :type :invoke, :process 0, :f :write, :key \"a\", :value 1, :node \"n1\"}\n",
		`:process :nemesis, :f :start, :value "partition n1"}`,
		`:f "odd f"`,
		`:error :timed-out, :code :timeout, :note "said \"hi\"\n", :retries 2, "type" "shadowed standard key", "weird key" [1 2], :x {:a 1}, :y "{:a   1}"}`,
		`:error "not enough replicas"`,
		`:value ["x" nil []]`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("export lacks %s\n%s", want, text)
		}
	}
}

func TestWriteEDNTestdataRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(porcupine, "etcd", "etcd_00*.log"))
	kv, _ := filepath.Glob(filepath.Join(porcupine, "kv", "*.txt"))
	for _, path := range append(files, kv...) {
		h, _, err := Load(path, FormatAuto)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := roundTripEDN(t, h)
		sameOps(t, got.Ops, h.Ops)
	}
}

func TestWriteEDNNotSwapped(t *testing.T) {
	h := &History{Ops: []Op{
		{Type: Invoke, Process: 0, F: "cas", Key: "r", Value: Ints(1, 2)},
		{Time: 1, Type: OK, Process: 0, F: "cas", Key: "r", Value: List(Int(1), Int(2), Str(NotSwapped))},
		{Time: 2, Type: Invoke, Process: 0, F: "cas", Key: "r", Value: Ints(1, 2)},
		{Time: 3, Type: OK, Process: 0, F: "cas", Key: "r", Value: Ints(1, 2)},
	}}
	h.Reindex()
	got, text := roundTripEDN(t, h)
	if !strings.Contains(text, "{:index 1, :time 1, :type :fail, :process 0, :f :cas, :key \"r\", :value [1 2]}\n") {
		t.Fatalf("not-swapped CAS exported as\n%s", text)
	}
	want := append([]Op(nil), h.Ops...)
	want[1].Type, want[1].Value = Fail, Ints(1, 2)
	sameOps(t, got.Ops, want)
}

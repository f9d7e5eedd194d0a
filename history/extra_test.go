package history

import (
	"bytes"
	"reflect"
	"testing"
)

// A one-entry Extra that repeats (a read policy's route on every read)
// is one map shared by the ops that load it, not one map each; an op
// without Extra has none.
func TestLoadSharesRepeatedExtra(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	route := map[string]string{"route": "primary: replica lag at or over bound"}
	for i := range 6 {
		op := Op{Index: i, Time: int64(i), Process: 0, F: "read", Value: Nil()}
		if i%2 == 0 {
			op.Type = Invoke
		} else {
			op.Type = OK
			op.Extra = route
		}
		if i == 5 {
			op.Extra = map[string]string{"route": "replica: fresh lag below bound", "other": "x"}
		}
		if err := w.Write(&op); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	h, _, err := ReadJSONL(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if h.Ops[0].Extra != nil || h.Ops[2].Extra != nil {
		t.Fatalf("ops without extra: %v %v", h.Ops[0].Extra, h.Ops[2].Extra)
	}
	a, b := h.Ops[1].Extra, h.Ops[3].Extra
	if !reflect.DeepEqual(a, route) || !reflect.DeepEqual(b, route) {
		t.Fatalf("extras %v %v, want %v", a, b, route)
	}
	if reflect.ValueOf(a).Pointer() != reflect.ValueOf(b).Pointer() {
		t.Errorf("equal one-entry extras are two maps")
	}
	if len(h.Ops[5].Extra) != 2 || h.Ops[5].Extra["other"] != "x" {
		t.Errorf("a two-entry extra: %v", h.Ops[5].Extra)
	}
}

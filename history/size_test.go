package history

import (
	"testing"
	"unsafe"
)

// The memory budget of a loaded history rests on these sizes (see Op).
func TestOpSize(t *testing.T) {
	if s := unsafe.Sizeof(Value{}); s != 16 {
		t.Errorf("a Value is %d bytes, want 16", s)
	}
	if s := unsafe.Sizeof(Op{}); s != 112 {
		t.Errorf("an Op is %d bytes, want 112", s)
	}
}

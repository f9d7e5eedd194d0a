package checkers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 11, case 10: the porcupine visualization of a long key is bounded
// (a window of operations ending at the first failure), and the page says
// so. Here one key has 20,000 operations, correct until a last stale read.
func TestLinearizableVisualizationBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var b linHist
	const n = 10000
	for i := int64(1); i <= n; i++ {
		b.write(int(i%4), "k", i)
		b.read(int((i+1)%4), "k", linInt(i))
	}
	b.read(0, "k", linInt(1)) // stale: non-linearizable
	r := Linearizable{Model: ModelRegister, VisualizeDir: dir}.Check(context.Background(), &b.h)
	linWant(t, r, Invalid)
	if len(r.Artifacts) != 1 {
		t.Fatalf("artifacts %v (reason %q)", r.Artifacts, r.Reason)
	}
	st, err := os.Stat(filepath.Join(dir, r.Artifacts[0]))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, r.Artifacts[0]))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("visualization of %d operations: %d bytes", 2*n+1, st.Size())
	if st.Size() > 2<<20 {
		t.Errorf("visualization is %d bytes, want at most 2 MiB", st.Size())
	}
	page := string(data)
	if !strings.Contains(page, "of the 20001 operations") {
		t.Errorf("the page does not say it shows a window of the operations")
	}
	if !strings.Contains(page, "the first operation that cannot be placed") {
		t.Errorf("the page does not say where the window ends")
	}
}

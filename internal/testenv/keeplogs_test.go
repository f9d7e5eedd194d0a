package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// A failed test keeps its state directory's logs, not its data.
func TestKeepLogsOnly(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"n1/data/base/1", "n1/data/PG_VERSION", "n1/postgres.log", "logs/n2-etcd.log", "data/n2/member/snap/db"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := keepLogsOnly(dir); err != nil {
		t.Fatal(err)
	}
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			r, _ := filepath.Rel(dir, p)
			left = append(left, r)
		}
		return nil
	})
	want := []string{"logs", "logs/n2-etcd.log", "n1", "n1/postgres.log"}
	if len(left) != len(want) {
		t.Fatalf("left %v, want %v", left, want)
	}
	for i := range want {
		if left[i] != want[i] {
			t.Fatalf("left %v, want %v", left, want)
		}
	}
}

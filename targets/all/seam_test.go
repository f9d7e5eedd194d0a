//go:build linux

package all

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Targets deploy through the cluster runtime they are given and never
// import a runtime package (cluster/local, later cluster/docker): the
// seam holds only if no target's non-test source names one. Tests may
// (they pick the local runtime to deploy on).
func TestTargetsImportNoRuntime(t *testing.T) {
	dirs, err := filepath.Glob("../*")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() || filepath.Base(dir) == "all" {
			continue
		}
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			for _, imp := range af.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(path, "github.com/chaoscheck/chaoscheck/cluster/") {
					t.Errorf("%s imports %s: targets receive a cluster.Runtime instead", f, path)
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d target source files: wrong directory?", checked)
	}
}

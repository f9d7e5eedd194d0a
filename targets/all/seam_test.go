//go:build linux

package all

import (
	"go/ast"
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

// A target that deploys on every runtime (no Registration.Runtimes) and
// runs real servers places node files only through the runtime
// (NodeSpec.Files and DataDir, cluster.WriteFile/CopyIn, Hosts.Exec):
// its non-test source calls none of the os functions that write or
// change files on the controller's disk, which a remote (ssh) runtime's
// nodes would not see.
//
// The one exception is a file that prepares, on the controller, the
// read-only artefacts every node reads through NodeSpec.SharedDirs (the
// runtime makes them visible: docker bind-mounts them read-only): named
// here with the reason, so that no other file slips in.
func TestPortableTargetsWriteNoControllerFiles(t *testing.T) {
	sharedArtefacts := map[string]string{
		"cassandra/cache.go": "the server's jars (Maven) and the clock shim, built once in the controller's cache and shared read-only",
	}
	writers := map[string]bool{"WriteFile": true, "Mkdir": true, "MkdirAll": true, "MkdirTemp": true, "Chown": true, "Chmod": true,
		"Rename": true, "Remove": true, "RemoveAll": true, "Create": true, "CreateTemp": true, "OpenFile": true, "Symlink": true, "Link": true}
	checked := 0
	for _, reg := range Registry() {
		if reg.InProcess || len(reg.Runtimes) > 0 {
			continue
		}
		files, err := filepath.Glob(filepath.Join("..", reg.Name, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no source files (%v)", reg.Name, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			if why, ok := sharedArtefacts[reg.Name+"/"+filepath.Base(f)]; ok {
				t.Logf("%s writes on the controller: %s", f, why)
				delete(sharedArtefacts, reg.Name+"/"+filepath.Base(f))
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			ast.Inspect(af, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "os" && writers[sel.Sel.Name] {
					t.Errorf("%s: os.%s: place node files through the runtime instead", f, sel.Sel.Name)
				}
				return true
			})
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d files", checked)
	}
	for f := range sharedArtefacts {
		t.Errorf("%s: excepted, but not a file of a portable target (refused on some runtime, or gone)", f)
	}
}

//go:build linux

package cassandra

// This file is the one place of the target that writes on the
// controller's disk: it prepares, once, in the controller's cache
// directory, the read-only artefacts every node runs (the server's jars,
// the clock shim). Nodes reach them through NodeSpec.SharedDirs (the
// docker runtime bind-mounts them read-only), never by a path of their
// own.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	_ "embed"

	"github.com/chaoscheck/chaoscheck/cluster"
)

//go:embed clockshim/clockshim.c
var clockshimSource []byte

// MavenTimeout bounds resolving the server's jars from Maven Central.
const MavenTimeout = 10 * time.Minute

// markerFile, in the cache's version directory, says lib/ is complete.
const markerFile = "complete"

// EnsureServer makes sure the jars of Cassandra version are in
// cacheRoot/cassandra-<version>/lib and returns that directory. The first
// call resolves them with Maven (`mvn -q dependency:copy-dependencies
// -DincludeScope=runtime`) from an embedded pom and writes a marker file on
// success; later calls only check the marker. It fails with a clear error
// when mvn is missing.
func EnsureServer(ctx context.Context, rt cluster.Runtime, cacheRoot, version string) (string, error) {
	dir := filepath.Join(cacheRoot, "cassandra-"+version)
	lib := filepath.Join(dir, "lib")
	if _, err := os.Stat(filepath.Join(dir, markerFile)); err == nil {
		return lib, nil
	}
	mvn, err := exec.LookPath("mvn")
	if err != nil {
		return "", fmt.Errorf("cassandra: the server's jars are not cached in %s and Maven is missing (install Debian package maven, Java 11 or 17 and network access to Maven Central): %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cassandra: cache dir: %w", err)
	}
	pom, err := render("conf/pom.xml.tmpl", struct{ Version string }{version})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "pom.xml"), pom, 0o644); err != nil {
		return "", fmt.Errorf("cassandra: write pom: %w", err)
	}
	// A half-copied lib from an interrupted run is replaced whole.
	tmp := lib + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("cassandra: clean %s: %w", tmp, err)
	}
	// Before any cluster exists: the runtime's RunCommand (on the local
	// runtime: own process group, parent-death signal), bounded by
	// MavenTimeout.
	if _, err := rt.RunCommand(ctx, cluster.Command{
		Path: mvn, Dir: dir, Timeout: MavenTimeout,
		Args: []string{"-B", "-q", "-f", filepath.Join(dir, "pom.xml"),
			"dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory=" + tmp},
	}); err != nil {
		return "", fmt.Errorf("cassandra: mvn resolving org.apache.cassandra:cassandra-all:%s from Maven Central (bounded by %v): %w", version, MavenTimeout, err)
	}
	if _, err := findJamm(tmp); err != nil {
		return "", err
	}
	if err := os.RemoveAll(lib); err != nil {
		return "", fmt.Errorf("cassandra: replace %s: %w", lib, err)
	}
	if err := os.Rename(tmp, lib); err != nil {
		return "", fmt.Errorf("cassandra: install %s: %w", lib, err)
	}
	if err := os.WriteFile(filepath.Join(dir, markerFile), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("cassandra: write marker: %w", err)
	}
	return lib, nil
}

// findJamm returns the jamm agent jar of lib (Cassandra refuses to start
// without it).
func findJamm(lib string) (string, error) {
	m, err := filepath.Glob(filepath.Join(lib, "jamm-*.jar"))
	if err != nil || len(m) == 0 {
		return "", fmt.Errorf("cassandra: no jamm-*.jar in %s: the Maven resolution is incomplete", lib)
	}
	return m[len(m)-1], nil
}

// ShimBuildTimeout bounds compiling the clock shim.
const ShimBuildTimeout = time.Minute

// BuildClockShim compiles clockshim/clockshim.c with cc into
// cacheRoot/clockshim-<hash>.so, once, and returns its path.
func BuildClockShim(ctx context.Context, rt cluster.Runtime, cacheRoot string) (string, error) {
	sum := sha256.Sum256(clockshimSource)
	so := filepath.Join(cacheRoot, "clockshim-"+hex.EncodeToString(sum[:6])+".so")
	if _, err := os.Stat(so); err == nil {
		return so, nil
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		return "", fmt.Errorf("cassandra: no C compiler for the clock shim (install Debian package gcc): %w", err)
	}
	if err := os.MkdirAll(cacheRoot, 0o755); err != nil {
		return "", fmt.Errorf("cassandra: cache dir: %w", err)
	}
	src := so + ".c"
	if err := os.WriteFile(src, clockshimSource, 0o644); err != nil {
		return "", fmt.Errorf("cassandra: clock shim source: %w", err)
	}
	tmp := so + ".tmp"
	if _, err := rt.RunCommand(ctx, cluster.Command{
		Path: cc, Args: []string{"-O2", "-shared", "-fPIC", "-o", tmp, src, "-ldl"}, Timeout: ShimBuildTimeout,
	}); err != nil {
		return "", fmt.Errorf("cassandra: compile clock shim: %w", err)
	}
	if err := os.Rename(tmp, so); err != nil {
		return "", fmt.Errorf("cassandra: install clock shim: %w", err)
	}
	return so, nil
}

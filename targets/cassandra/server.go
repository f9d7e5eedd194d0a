//go:build linux

package cassandra

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

//go:embed conf/pom.xml.tmpl conf/cassandra.yaml.tmpl conf/logback.xml
var confFS embed.FS

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

func render(name string, data any) ([]byte, error) {
	t, err := template.ParseFS(confFS, name)
	if err != nil {
		return nil, fmt.Errorf("cassandra: template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("cassandra: template %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// initialTokens spreads n Murmur3 tokens evenly over [-2^63, 2^63).
func initialTokens(n int) []string {
	min := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 63))
	span := new(big.Int).Lsh(big.NewInt(1), 64)
	out := make([]string, n)
	for i := range out {
		t := new(big.Int).Mul(span, big.NewInt(int64(i)))
		t.Div(t, big.NewInt(int64(n)))
		t.Add(t, min)
		out[i] = t.String()
	}
	return out
}

// yamlParams fill conf/cassandra.yaml.tmpl.
type yamlParams struct {
	Node            string
	InitialToken    string
	Seeds           string
	Addr            netip.Addr
	Dir             string
	CommitlogSync   string
	ServerTimeoutMS int64
	// User is the user's cassandra.yaml overrides (--server-config),
	// merged over the rendered template; nil: none. Not a template field.
	User   *serverconf.File
	Snitch string
}

// nodeFiles is where a node's files live.
type nodeFiles struct {
	dir     string // data root
	yaml    string
	logback string
	rackdc  string // cassandra-rackdc.properties (GossipingPropertyFileSnitch)
	log     string // stdout and stderr of the JVM
}

func filesOf(stateDir, node string) nodeFiles {
	dir := filepath.Join(stateDir, node)
	return nodeFiles{
		dir:     dir,
		yaml:    filepath.Join(dir, "conf", "cassandra.yaml"),
		logback: filepath.Join(dir, "conf", "logback.xml"),
		rackdc:  filepath.Join(dir, "conf", "cassandra-rackdc.properties"),
		log:     filepath.Join(stateDir, "logs", node+"-cassandra.log"),
	}
}

// writeNodeConfig writes the node's cassandra.yaml and logback.xml.
func writeNodeConfig(f nodeFiles, p yamlParams) error {
	for _, d := range []string{filepath.Dir(f.yaml), filepath.Dir(f.log), filepath.Join(f.dir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cassandra: node dir: %w", err)
		}
	}
	y, err := render("conf/cassandra.yaml.tmpl", p)
	if err != nil {
		return err
	}
	if y, err = mergeYAML(y, p.User); err != nil {
		return err
	}
	if err := os.WriteFile(f.yaml, y, 0o644); err != nil {
		return fmt.Errorf("cassandra: write %s: %w", f.yaml, err)
	}
	lb, err := confFS.ReadFile("conf/logback.xml")
	if err != nil {
		return fmt.Errorf("cassandra: logback.xml: %w", err)
	}
	if err := os.WriteFile(f.logback, lb, 0o644); err != nil {
		return fmt.Errorf("cassandra: write %s: %w", f.logback, err)
	}
	return nil
}

// jvmOptions are conf/jvm-server.options and conf/jvm17-server.options of
// Cassandra 5.0 as far as a test node needs them. Without the
// --add-exports/--add-opens list Cassandra fails to start on Java 17.
var jvmOptions = []string{
	"-ea", "-da:net.openhft...",
	"-XX:+UseThreadPriorities", "-Xss256k", "-XX:+UseTLAB", "-XX:+ResizeTLAB",
	"-XX:+PerfDisableSharedMem",
	"-Djava.net.preferIPv4Stack=true", "-Dchronicle.analytics.disable=true",
	"-XX:+UseG1GC", "-XX:+ParallelRefProcEnabled", "-XX:MaxTenuringThreshold=1",
	"-XX:G1HeapRegionSize=16m", "-XX:G1RSetUpdatingPauseTimePercent=5",
	"-XX:MaxGCPauseMillis=300", "-XX:InitiatingHeapOccupancyPercent=70",
	// 2 shared cores: C1 only (much less JIT work at startup, plenty
	// fast for a test's few hundred ops/s) and few GC threads.
	"-XX:TieredStopAtLevel=1",
	"-XX:ParallelGCThreads=2", "-XX:ConcGCThreads=1",
	"-XX:+CrashOnOutOfMemoryError",
	"-Djdk.attach.allowAttachSelf=true",
	"--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
	"--add-exports", "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
	"--add-exports", "java.management/com.sun.jmx.remote.security=ALL-UNNAMED",
	"--add-exports", "java.rmi/sun.rmi.registry=ALL-UNNAMED",
	"--add-exports", "java.rmi/sun.rmi.server=ALL-UNNAMED",
	"--add-exports", "java.sql/java.sql=ALL-UNNAMED",
	"--add-exports", "java.base/java.lang.ref=ALL-UNNAMED",
	"--add-exports", "jdk.unsupported/sun.misc=ALL-UNNAMED",
	"--add-opens", "java.base/java.lang.module=ALL-UNNAMED",
	"--add-opens", "java.base/jdk.internal.loader=ALL-UNNAMED",
	"--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
	"--add-opens", "java.base/jdk.internal.reflect=ALL-UNNAMED",
	"--add-opens", "java.base/jdk.internal.math=ALL-UNNAMED",
	"--add-opens", "java.base/jdk.internal.module=ALL-UNNAMED",
	"--add-opens", "java.base/jdk.internal.util.jar=ALL-UNNAMED",
	"--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
	"--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
	"--add-opens", "java.base/java.io=ALL-UNNAMED",
	"--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
	"--add-opens", "java.base/java.lang=ALL-UNNAMED",
	"--add-opens", "java.base/java.util=ALL-UNNAMED",
	"--add-opens", "java.base/java.nio=ALL-UNNAMED",
	"-Dio.netty.tryReflectionSetAccessible=true",
	// Test-cluster startup: no waiting for gossip to settle.
	"-Dcassandra.skip_wait_for_gossip_to_settle=0",
	"-Dcassandra.ring_delay_ms=10000",
	// Failure detection: with phi_convict_threshold 5 (the minimum) and
	// the mean heartbeat interval capped at 1 s, a dead peer is convicted
	// after about 12 s of silence (phi = 0.434 t / mean); with the default
	// cap of 2 s it took up to 25 s, longer than a test's fault window.
	"-Dcassandra.fd_max_interval_ms=1000",
	"-Dcassandra-foreground=yes",
}

// clockMode says how a node's JVM gets its wall clock.
type clockMode int

const (
	// clockShim: LD_PRELOAD of the project's clockshim (clockshim/), which
	// shifts only the wall clock by the offset in the local runtime's
	// clock file (FAKETIME_TIMESTAMP_FILE).
	clockShim clockMode = iota
	// clockFaketime: the local runtime's libfaketime, re-reading the
	// clock file at most once a second. Works, but makes the JVM burn CPU.
	clockFaketime
	// clockReal: no preload, real clock, no clock skew.
	clockReal
)

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

// javaCommand returns the command line (for /usr/bin/env, which execs in
// place, so the pid is the JVM's) that runs a node's JVM.
//
// The local runtime gives every process libfaketime with
// FAKETIME_NO_CACHE=1, which opens and parses the clock file on every
// clock call. The JVM makes tens of thousands a second: measured on 2
// cores, one node used over 100 s of CPU to start (80 % system time),
// against about 8 s without a preload. So env replaces LD_PRELOAD with
// the clock shim (clockShim), or keeps libfaketime but caches the file
// for a second (clockFaketime), or removes the preload (clockReal).
func javaCommand(java, lib, jamm, heap string, f nodeFiles, mode clockMode, shim string) []string {
	var args []string
	switch mode {
	case clockShim:
		args = []string{"-u", "FAKETIME_NO_CACHE", "LD_PRELOAD=" + shim}
	case clockFaketime:
		args = []string{"-u", "FAKETIME_NO_CACHE", "FAKETIME_CACHE_DURATION=1"}
	default:
		args = []string{"-u", "LD_PRELOAD"}
	}
	args = append(args, "MALLOC_ARENA_MAX=4", java)
	args = append(args, jvmOptions...)
	args = append(args,
		"-javaagent:"+jamm,
		"-Xms"+heap, "-Xmx"+heap,
		"-Dcassandra.config=file://"+f.yaml,
		"-Dlogback.configurationFile="+f.logback,
		"-Dcassandra-rackdc.properties=file://"+f.rackdc,
		"-Dcassandra.logdir="+filepath.Join(f.dir, "logs"),
		"-Dcassandra.storagedir="+f.dir,
		"-cp", filepath.Join(lib, "*"),
		"org.apache.cassandra.service.CassandraDaemon",
	)
	return args
}

// tail returns at most the last n bytes of b, cut at a line start.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimSpace(string(b))
}

// logTail returns the last lines of a log file, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return tail(b, 1500)
}

// errStartupFailed reports a JVM that exited during startup.
var errStartupFailed = errors.New("cassandra exited during startup")

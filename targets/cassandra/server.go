//go:build linux

package cassandra

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

//go:embed conf/pom.xml.tmpl conf/cassandra.yaml.tmpl conf/logback.xml
var confFS embed.FS

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

// nodeConfigFiles renders the node's cassandra.yaml (with the user's
// overrides merged), logback.xml and cassandra-rackdc.properties (dc),
// for NodeSpec.Files: the runtime places them on the node.
func nodeConfigFiles(f nodeFiles, p yamlParams, dc string) ([]cluster.File, error) {
	y, err := render("conf/cassandra.yaml.tmpl", p)
	if err != nil {
		return nil, err
	}
	if y, err = mergeYAML(y, p.User); err != nil {
		return nil, err
	}
	lb, err := confFS.ReadFile("conf/logback.xml")
	if err != nil {
		return nil, fmt.Errorf("cassandra: logback.xml: %w", err)
	}
	return []cluster.File{
		{Path: f.yaml, Data: y, Mode: 0o644},
		{Path: f.logback, Data: lb, Mode: 0o644},
		{Path: f.rackdc, Data: []byte(rackDC(dc)), Mode: 0o644},
	}, nil
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
		// The JVM's temporary files (lz4-java and JNA unpack their native
		// libraries there, about 210 KB a start) go in the node's data
		// directory, removed with the state directory: in the system
		// temp directory they were left behind by every run.
		"-Djava.io.tmpdir="+f.dir,
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

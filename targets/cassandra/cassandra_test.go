//go:build linux

package cassandra

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/internal/testenv"
	"github.com/chaoscheck/chaoscheck/workloads"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	tg, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := tg.Config()
	if c.Nodes != 3 || c.ReplicationFactor != 3 || c.ReadCL != "QUORUM" || c.WriteCL != "QUORUM" || c.SerialCL != "SERIAL" ||
		c.Heap != DefaultHeap || c.CommitlogSync != "batch" || c.Version != DefaultVersion {
		t.Errorf("defaults: %+v", c)
	}
	if tg.Name() != "cassandra" {
		t.Errorf("name %q", tg.Name())
	}
	bad := []Config{
		{ReadCL: "EACH"},
		{WriteCL: "SERIAL"},
		{ReadCL: "ANY"},
		{SerialCL: "QUORUM"},
		{Nodes: 3, ReplicationFactor: 4},
		{Nodes: 2, ReadCL: "THREE"},
		{Heap: "lots"},
		{CommitlogSync: "group"},
		{Version: "4.1.5"},
	}
	for _, b := range bad {
		if _, err := New(b); err == nil {
			t.Errorf("New(%+v) accepted", b)
		}
	}
	if _, err := New(Config{ReadCL: "local_serial", WriteCL: "local_quorum"}); err != nil {
		t.Errorf("lower-case levels: %v", err)
	}
}

func TestOverlap(t *testing.T) {
	for _, c := range []struct {
		r, w string
		want string
	}{
		{"ONE", "ONE", "false (1 + 1 <= 3)"},
		{"QUORUM", "QUORUM", "true (2 + 2 > 3)"},
		{"ONE", "ALL", "true (3 + 1 > 3)"},
		{"SERIAL", "QUORUM", "true (2 + 2 > 3)"},
		{"TWO", "ONE", "false (1 + 2 <= 3)"},
	} {
		cfg := Config{ReadCL: c.r, WriteCL: c.w}
		cfg.defaults()
		if got := cfg.Overlap(); got != c.want {
			t.Errorf("R=%s W=%s: %s, want %s", c.r, c.w, got, c.want)
		}
	}
}

func TestInitialTokens(t *testing.T) {
	got := initialTokens(3)
	want := []string{"-9223372036854775808", "-3074457345618258603", "3074457345618258602"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("tokens %v, want %v", got, want)
	}
	if got := initialTokens(1); got[0] != "-9223372036854775808" {
		t.Errorf("1 node: %v", got)
	}
}

// fileData is the content of the file of files at path.
func fileData(t *testing.T, files []cluster.File, path string) []byte {
	t.Helper()
	for _, f := range files {
		if f.Path == path {
			return f.Data
		}
	}
	t.Fatalf("no file %s in %d files", path, len(files))
	return nil
}

func TestNodeConfig(t *testing.T) {
	dir := t.TempDir()
	f := filesOf(dir, "n2")
	files, err := nodeConfigFiles(f, yamlParams{
		Node: "n2", InitialToken: "42", Seeds: "10.79.0.11:7000,10.79.0.12:7000",
		Addr: netip.MustParseAddr("10.79.0.12"), Dir: f.dir, CommitlogSync: "periodic", ServerTimeoutMS: 1000,
	}, "dc2")
	if err != nil {
		t.Fatal(err)
	}
	y := fileData(t, files, f.yaml)
	if rd := string(fileData(t, files, f.rackdc)); rd != "dc=dc2\nrack=rack1\n" {
		t.Errorf("cassandra-rackdc.properties %q", rd)
	}
	if lb := fileData(t, files, f.logback); !strings.Contains(string(lb), "<configuration") {
		t.Errorf("logback.xml %q", lb)
	}
	// The files are only rendered: nothing is written on the controller.
	if _, err := os.Stat(f.dir); !os.IsNotExist(err) {
		t.Errorf("node dir %s on the controller: %v", f.dir, err)
	}
	for _, want := range []string{
		"initial_token: 42", "listen_address: 10.79.0.12", "rpc_address: 10.79.0.12",
		`seeds: "10.79.0.11:7000,10.79.0.12:7000"`, "commitlog_sync: periodic", "commitlog_sync_period: 10000ms",
		"auto_bootstrap: false", "write_request_timeout: 1000ms", filepath.Join(f.dir, "commitlog"),
	} {
		if !strings.Contains(string(y), want) {
			t.Errorf("cassandra.yaml lacks %q:\n%s", want, y)
		}
	}
	files, err = nodeConfigFiles(f, yamlParams{Node: "n2", Addr: netip.MustParseAddr("10.79.0.12"), Dir: f.dir, CommitlogSync: "batch"}, "dc1")
	if err != nil {
		t.Fatal(err)
	}
	y = fileData(t, files, f.yaml)
	if strings.Contains(string(y), "commitlog_sync_period") {
		t.Error("batch sync with a commitlog_sync_period: Cassandra refuses to start")
	}
	args := strings.Join(javaCommand("/usr/bin/java", "/lib", "/lib/jamm-0.4.0.jar", "1g", f, clockShim, "/c/clockshim-x.so"), " ")
	for _, want := range []string{
		"-u FAKETIME_NO_CACHE LD_PRELOAD=/c/clockshim-x.so MALLOC_ARENA_MAX=4 /usr/bin/java", "-Xms1g -Xmx1g", "-javaagent:/lib/jamm-0.4.0.jar",
		"-Dcassandra-foreground=yes", "--add-opens java.base/java.nio=ALL-UNNAMED", "-cp /lib/*",
		"-Dcassandra.config=file://" + f.yaml, "org.apache.cassandra.service.CassandraDaemon",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("java command lacks %q", want)
		}
	}
	if args := strings.Join(javaCommand("/usr/bin/java", "/lib", "/lib/jamm-0.4.0.jar", "1g", f, clockReal, ""), " "); !strings.HasPrefix(args, "-u LD_PRELOAD ") {
		t.Errorf("without clock skew: %s", args)
	}
}

func TestEnsureServerWithoutMaven(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := EnsureServer(context.Background(), local.Runtime{}, t.TempDir(), DefaultVersion)
	if err == nil || !strings.Contains(err.Error(), "Maven is missing") {
		t.Errorf("error %v, want one saying Maven is missing", err)
	}
}

func TestEnsureServerUsesMarker(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cassandra-5.0.1")
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, markerFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir()) // no mvn: must not be needed
	lib, err := EnsureServer(context.Background(), local.Runtime{}, root, "5.0.1")
	if err != nil || lib != filepath.Join(dir, "lib") {
		t.Errorf("EnsureServer = %q, %v", lib, err)
	}
}

func frame(code int) gocql.RequestError {
	// The driver's error types embed an unexported frame; a
	// RequestError with the code is what the mapping looks at.
	return codeErr(code)
}

type codeErr int

func (c codeErr) Code() int       { return int(c) }
func (c codeErr) Message() string { return fmt.Sprintf("code %#x", int(c)) }
func (c codeErr) Error() string   { return c.Message() }

func TestErrorMapping(t *testing.T) {
	un := &gocql.RequestErrUnavailable{Consistency: gocql.Quorum, Required: 2, Alive: 1}
	wt := &gocql.RequestErrWriteTimeout{Consistency: gocql.Quorum, Received: 1, BlockFor: 2, WriteType: "SIMPLE"}
	cas := &gocql.RequestErrWriteTimeout{Consistency: gocql.Quorum, WriteType: "CAS"}
	for _, c := range []struct {
		name     string
		err      error
		lwt      bool
		definite bool
		contains string
	}{
		{"unavailable", un, false, true, "unavailable"},
		{"unavailable LWT", un, true, false, "unavailable"},
		{"no connections", gocql.ErrNoConnections, false, true, "not sent"},
		{"write timeout", wt, false, false, "write timeout"},
		{"CAS timeout", cas, true, false, "CAS write"},
		{"CAS unknown", &gocql.RequestErrCASWriteUnknown{}, true, false, "CAS write unknown"},
		{"client timeout", gocql.ErrTimeoutNoResponse, false, false, "no response"},
		{"context", context.DeadlineExceeded, false, false, "deadline"},
		{"overloaded", frame(gocql.ErrCodeOverloaded), false, true, "overloaded"},
		{"invalid", frame(gocql.ErrCodeInvalid), false, true, "invalid"},
		{"write failure", &gocql.RequestErrWriteFailure{}, false, false, ""},
	} {
		got := writeError(c.err, c.lwt)
		if workloads.IsDefinite(got) != c.definite {
			t.Errorf("%s: definite=%v, want %v (%v)", c.name, workloads.IsDefinite(got), c.definite, got)
		}
		if !strings.Contains(got.Error(), c.contains) {
			t.Errorf("%s: %q lacks %q", c.name, got, c.contains)
		}
	}
	if writeError(nil, false) != nil {
		t.Error("nil error mapped to non-nil")
	}
	if e := readError(&gocql.RequestErrReadTimeout{Consistency: gocql.Quorum, Received: 1, BlockFor: 2}); !strings.Contains(e.Error(), "read timeout") {
		t.Errorf("read timeout: %v", e)
	}
	if e := readError(un); !strings.Contains(e.Error(), "unavailable") {
		t.Errorf("read unavailable: %v", e)
	}
}

// TestEnsureServerTiming resolves the jars into a fresh cache directory
// and times it, then times the warm (marker) path. It needs Maven Central
// and runs only when CASSANDRA_TIME_MAVEN is set (clear ~/.m2 first for a
// truly cold run).
func TestEnsureServerTiming(t *testing.T) {
	if os.Getenv("CASSANDRA_TIME_MAVEN") == "" {
		t.Skip("set CASSANDRA_TIME_MAVEN=1 to time the Maven resolution")
	}
	root := t.TempDir()
	start := time.Now()
	lib, err := EnsureServer(context.Background(), local.Runtime{}, root, DefaultVersion)
	if err != nil {
		t.Fatal(err)
	}
	cold := time.Since(start)
	jars, _ := filepath.Glob(filepath.Join(lib, "*.jar"))
	start = time.Now()
	if _, err := EnsureServer(context.Background(), local.Runtime{}, root, DefaultVersion); err != nil {
		t.Fatal(err)
	}
	t.Logf("EnsureServer %s: cold %v (%d jars), warm %v", DefaultVersion, cold.Round(time.Millisecond), len(jars), time.Since(start))
	if len(jars) < 50 {
		t.Errorf("only %d jars", len(jars))
	}
}

func TestClockRefusedWithoutPreload(t *testing.T) {
	c := &Cluster{clockErr: fmt.Errorf("cassandra: clock skew disabled (Config.NoClockSkew): %w", cluster.ErrUnsupported)}
	err := c.SetClockOffset(context.Background(), "n1", time.Second)
	if !errors.Is(err, cluster.ErrUnsupported) {
		t.Errorf("SetClockOffset without a preload: %v, want ErrUnsupported", err)
	}
}

// ccEnv is what TestClockShimShiftsWallClock needs: a C compiler and
// date(1).
var ccEnv = &testenv.Env{
	Needs: "a C compiler (Debian package gcc), date (coreutils)",
	Probe: func(context.Context) error {
		for _, c := range []string{"cc", "date"} {
			if _, err := exec.LookPath(c); err != nil {
				return err
			}
		}
		return nil
	},
}

// TestClockShimShiftsWallClock builds the clock preload from its source
// (in a fresh directory: no cached build) and runs date(1) under it: the
// wall clock must be off by the offset in the clock file, whole and
// fractional, ahead and behind. A shim that does not compile or does not
// shift the clock fails here, with the compiler's output, in a second,
// instead of in the 4-minute cluster tests.
func TestClockShimShiftsWallClock(t *testing.T) {
	ccEnv.Require(t)
	ctx := context.Background()
	so, err := BuildClockShim(ctx, local.Runtime{}, t.TempDir())
	if err != nil {
		t.Fatalf("build the clock preload: %v", err)
	}
	clockFile := filepath.Join(t.TempDir(), "clock")
	for _, c := range []struct {
		file string
		want time.Duration
	}{{"+3600", time.Hour}, {"-1.5", -1500 * time.Millisecond}, {"0", 0}} {
		if err := os.WriteFile(clockFile, []byte(c.file), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, "date", "+%s.%N")
		cmd.Env = append(os.Environ(), "LD_PRELOAD="+so, "FAKETIME_TIMESTAMP_FILE="+clockFile)
		before := time.Now()
		out, err := cmd.Output()
		after := time.Now()
		if err != nil {
			t.Fatalf("date under the preload (clock file %q): %v", c.file, err)
		}
		sec, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil {
			t.Fatalf("date printed %q: %v", out, err)
		}
		got := time.Unix(0, int64(sec*1e9))
		// date read its clock between before and after, shifted by want.
		if lo, hi := before.Add(c.want-10*time.Millisecond), after.Add(c.want+10*time.Millisecond); got.Before(lo) || got.After(hi) {
			t.Errorf("clock file %q: date says %v, want %v ahead of real time (between %v and %v)", c.file, got.Sub(before), c.want, lo, hi)
		}
	}
}

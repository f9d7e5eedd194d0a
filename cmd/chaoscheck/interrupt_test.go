package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/rundir"
)

// Issue 11 case 6: two SIGINTs 50 ms apart made chaoscheck exit at once,
// silently. The second one must end the run with exit 130 and one line
// saying what is left and that chaoscheck heal removes it (the
// PostgreSQL variant, with a real cluster to tear down, is
// targets/postgres TestRunsLeaveNothing).
func TestSecondInterruptSaysWhatIsLeft(t *testing.T) {
	bin := buildBinary(t)
	st := t.TempDir()
	cmd := exec.Command(bin, "test", "--store", st, "--name", "sigint2", "--time-limit", "2m",
		"--nemesis", "partition", "--nemesis-interval", "200ms", "--seed", "3", "--rate", "0")
	errFile := filepath.Join(t.TempDir(), "stderr")
	ef, err := os.Create(errFile)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	cmd.Stderr = ef
	stderr := func() string { b, _ := os.ReadFile(errFile); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	hist := filepath.Join(st, "sigint2", "latest", rundir.HistoryFile)
	deadline := time.Now().Add(30 * time.Second)
	// Enough history that checking it outlasts the 50 ms between signals.
	for !faultActive(hist) || fileSize(hist) < 4<<20 {
		if time.Now().After(deadline) {
			t.Fatal("no fault became active within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// The second SIGINT 50 ms after the first was taken: two signals sent
	// closer than the process gets scheduled merge into one in the kernel.
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr(), "chaoscheck: interrupted:") {
		if time.Now().After(deadline) {
			t.Fatalf("first SIGINT not taken within 30s:\n%s", stderr())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the spacing of the report
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("chaoscheck did not exit within 30s of the second SIGINT")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit %v, want exit status 130", err)
	}
	var line string
	for _, l := range strings.Split(stderr(), "\n") {
		if strings.Contains(l, "abandoned") {
			line = l
		}
	}
	t.Logf("stderr:\n%s", stderr())
	if !strings.Contains(line, "left on this machine") || !strings.Contains(line, "chaoscheck heal") {
		t.Errorf("no line saying what is left and that chaoscheck heal removes it")
	}
}

// --keep-data does not apply to the sim (it keeps nothing on disk): exit
// 254 before anything runs.
func TestKeepDataRefusedForSim(t *testing.T) {
	st := t.TempDir()
	if code := run([]string{"test", "--store", st, "--keep-data", "--time-limit", "1s"}); code != exitBadInput {
		t.Errorf("exit %d, want %d", code, exitBadInput)
	}
	if ents, _ := os.ReadDir(st); len(ents) > 0 {
		t.Errorf("store not empty: %v", ents)
	}
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

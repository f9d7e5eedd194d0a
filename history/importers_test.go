package history

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// Regression tests of the importer cases of issue 10 (cases 7 to 11 and
// 13) and issue 11 (case 5). Each one is built from the case as reported.

// Case 7: current Jepsen prints an op's error after its value. The log
// must load, with the error in Op.Error, rendered like an EDN history's
// :error (a keyword as its name, a string as its contents, any other form
// as its EDN text); an error column that is not EDN is kept as its text.
func TestJepsenLogErrorColumn(t *testing.T) {
	log := strings.Join([]string{
		"0\t:invoke\t:write\t3",
		"0\t:info\t:write\t3\t[:timeout \"socket closed\"]",
		"1\t:invoke\t:cas\t[1 4]",
		"1\t:fail\t:cas\t[1 4]\t:not-found",
		"2\t:invoke\t:read\tnil",
		"2\t:fail\t:read\tnil\tjava.net.SocketException: Connection reset",
		"3\t:invoke\t:write\t5",
		"3\t:info\t:write\t:timed-out\t\"conn refused\"",
		"",
	}, "\n")
	h, info, err := ReadJepsenLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if info.Truncated {
		t.Fatalf("info %+v", info)
	}
	want := []Op{
		{Type: Invoke, Process: 0, F: "write", Value: Int(3)},
		{Type: Info, Process: 0, F: "write", Value: Int(3), Error: `[:timeout "socket closed"]`},
		{Type: Invoke, Process: 1, F: "cas", Value: Ints(1, 4)},
		{Type: Fail, Process: 1, F: "cas", Value: Ints(1, 4), Error: "not-found"},
		{Type: Invoke, Process: 2, F: "read"},
		{Type: Fail, Process: 2, F: "read", Error: "java.net.SocketException: Connection reset"},
		{Type: Invoke, Process: 3, F: "write", Value: Int(5)},
		// The keyword value is the old Jepsen way of writing the error; with
		// an error column as well, the keyword goes to Extra.
		{Type: Info, Process: 3, F: "write", Value: Int(5), Error: "conn refused",
			Extra: map[string]string{"jepsen-value": ":timed-out"}},
	}
	for i := range want {
		want[i].Index, want[i].Time = i, int64(i)
	}
	sameOps(t, h.Ops, want)
}

// Real console output of Jepsen 0.1 (2017) and Maelstrom (2021): the
// logger prints "jepsen.util" and the event without a dash, after a
// timestamp and the thread name. The first excerpt is from the Jepsen
// tutorial, jepsen-io/jepsen doc/tutorial/03-client.md (commit 1f1f96a),
// fields separated by runs of spaces, with an error column (:not-found);
// the second from the Maelstrom broadcast tutorial, jepsen-io/maelstrom
// doc/03-broadcast/01-broadcast.md (commit 362697d), tab separated, with
// :net-timeout errors. Both Eclipse Public License 1.0.
const (
	jepsen2017Log = `INFO [2017-03-30 23:00:50,978] jepsen worker 0 - jepsen.util 0  :invoke :cas  [1 4]
INFO [2017-03-30 23:00:51,065] jepsen worker 0 - jepsen.util 0  :fail :cas  [1 4] :not-found
INFO [2017-03-30 22:38:59,278] jepsen worker 1 - jepsen.util 11 :invoke :write  4
INFO [2017-03-30 22:38:59,286] jepsen worker 1 - jepsen.util 11 :ok :write  4
INFO [2017-03-30 22:38:59,289] jepsen worker 4 - jepsen.util 4  :invoke :cas  [2 2]
INFO [2017-03-30 22:38:59,294] jepsen worker 1 - jepsen.util 11 :invoke :read nil
INFO [2017-03-30 22:38:59,297] jepsen worker 1 - jepsen.util 11 :ok :read 4
INFO [2017-03-30 22:38:59,298] jepsen worker 4 - jepsen.util 4  :fail :cas  [2 2]
INFO [2017-03-30 22:38:59,818] jepsen worker 4 - jepsen.util 4  :invoke :write  1
INFO [2017-03-30 22:38:59,826] jepsen worker 4 - jepsen.util 4  :ok :write  1
INFO [2017-03-30 22:38:59,917] jepsen worker 1 - jepsen.util 11 :invoke :cas  [1 2]
INFO [2017-03-30 22:38:59,926] jepsen worker 1 - jepsen.util 11 :ok :cas  [1 2]
`
	maelstrom2021Log = "$ ./maelstrom test -w broadcast --bin broadcast.rb --time-limit 5 --rate 10\n" +
		"...\n" +
		"NFO [2021-02-23 11:21:52,923] jepsen worker 2 - jepsen.util 2\t:invoke\t:broadcast\t0\n" +
		"INFO [2021-02-23 11:21:53,057] jepsen worker 3 - jepsen.util 3\t:invoke\t:broadcast\t1\n" +
		"INFO [2021-02-23 11:21:53,128] jepsen worker 4 - jepsen.util 4\t:invoke\t:broadcast\t2\n" +
		"INFO [2021-02-23 11:21:53,309] jepsen worker 0 - jepsen.util 0\t:invoke\t:broadcast\t3\n" +
		"INFO [2021-02-23 11:21:53,446] jepsen worker 1 - jepsen.util 1\t:invoke\t:read\tnil\n" +
		"INFO [2021-02-23 11:21:54,686] jepsen worker 1 - jepsen.util 1\t:ok\t:read\t[0 1 2]\n" +
		"INFO [2021-02-23 11:21:54,686] jepsen worker 1 - jepsen.util 1\t:invoke\t:read\tnil\n" +
		"INFO [2021-02-23 11:21:57,929] jepsen worker 2 - jepsen.util 2\t:info\t:broadcast\t0\t:net-timeout\n" +
		"INFO [2021-02-23 11:21:58,057] jepsen worker 3 - jepsen.util 3\t:info\t:broadcast\t1\t:net-timeout\n" +
		"INFO [2021-02-23 11:21:58,128] jepsen worker 4 - jepsen.util 4\t:info\t:broadcast\t2\t:net-timeout\n" +
		"INFO [2021-02-23 11:21:58,309] jepsen worker 0 - jepsen.util 0\t:info\t:broadcast\t3\t:net-timeout\n" +
		"INFO [2021-02-23 11:21:58,992] jepsen worker 1 - jepsen.util 1\t:ok\t:read\t[0 1 2 3]\n"
)

// Case 8: older Jepsen and Maelstrom log lines are detected and read.
func TestJepsenLogOlderPrefix(t *testing.T) {
	for _, tc := range []struct {
		name, log string
		ops       int
		check     func(t *testing.T, h *History)
	}{
		{"jepsen 2017", jepsen2017Log, 12, func(t *testing.T, h *History) {
			if op := h.Ops[1]; op.Type != Fail || op.F != "cas" || !op.Value.Equal(Ints(1, 4)) || op.Error != "not-found" {
				t.Fatalf("op 1: %v", op)
			}
			if op := h.Ops[6]; op.Process != 11 || op.Type != OK || op.F != "read" || !op.Value.Equal(Int(4)) {
				t.Fatalf("op 6: %v", op)
			}
		}},
		{"maelstrom 2021", maelstrom2021Log, 12, func(t *testing.T, h *History) {
			if op := h.Ops[7]; op.Type != Info || op.F != "broadcast" || !op.Value.Equal(Int(0)) || op.Error != "net-timeout" {
				t.Fatalf("op 7: %v", op)
			}
			if op := h.Ops[11]; op.Type != OK || !op.Value.Equal(Ints(0, 1, 2, 3)) {
				t.Fatalf("op 11: %v", op)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if f, err := DetectFormat([]byte(tc.log)); err != nil || f != FormatJepsenLog {
				t.Fatalf("detected %q, %v", f, err)
			}
			for _, f := range []Format{FormatAuto, FormatJepsenLog} {
				h, info, err := Read(strings.NewReader(tc.log), f)
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				if len(h.Ops) != tc.ops || info.Truncated {
					t.Fatalf("%s: %d ops, info %+v", f, len(h.Ops), info)
				}
				tc.check(t, h)
			}
		})
	}
}

// timeBackEDN is an EDN history whose second op is stamped 100 ns before
// the first, as workers of older Jepsen versions did.
const timeBackEDN = `{:type :invoke, :f :write, :value 1, :process 0, :time 1000, :index 0}
{:type :invoke, :f :read, :value nil, :process 1, :time 900, :index 1}
{:type :ok, :f :write, :value 1, :process 0, :time 1500, :index 2}
{:type :ok, :f :read, :value 1, :process 1, :time 1600, :index 3}
`

// Case 9: times that go back are accepted, file order is kept, and the
// regression is reported.
func TestTimesGoBack(t *testing.T) {
	h, info, err := ReadEDN(strings.NewReader(timeBackEDN))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Ops) != 4 || h.Ops[1].Time != 900 || h.Ops[1].F != "read" {
		t.Fatalf("ops %v", h.Ops)
	}
	if info.TimeRegressions != 1 || info.FirstTimeRegression != 1 || info.MaxTimeRegressionNS != 100 {
		t.Fatalf("info %+v", info)
	}
	if w := info.Warnings(); len(w) != 1 || !strings.Contains(w[0], "op 1") || !strings.Contains(w[0], "file order") {
		t.Fatalf("warnings %q", w)
	}
	// The same history in chaoscheck's own format.
	h2, info2, err := ReadJSONL(bytes.NewReader(jsonl(t, h)))
	if err != nil {
		t.Fatal(err)
	}
	sameOps(t, h2.Ops, h.Ops)
	if info2.TimeRegressions != 1 {
		t.Fatalf("jsonl info %+v", info2)
	}
}

// Case 10: in every line-based format, a last line without a newline is
// dropped and reported, even when it parses: a read of 12 cut to a read
// of 1 is not a read of 1.
func TestUnterminatedLastLineDropped(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		read        func(io.Reader) (*History, ReadInfo, error)
	}{
		{"jepsen log", "0\t:invoke\t:read\tnil\n0\t:ok\t:read\t1", ReadJepsenLog},
		{"jsonl", `{"index":0,"time":1,"type":"invoke","process":0,"f":"read","value":null}` + "\n" +
			`{"index":1,"time":2,"type":"ok","process":0,"f":"read","value":1}`, ReadJSONL},
		{"edn lines", "{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :process 0, :value 1}", ReadEDN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, info, err := tc.read(strings.NewReader(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Ops) != 1 || !info.Truncated || info.TruncatedLine != 2 || info.Lines != 2 {
				t.Fatalf("%d ops, info %+v", len(h.Ops), info)
			}
			// With its newline, the line is complete and kept.
			h, info, err = tc.read(strings.NewReader(tc.input + "\n"))
			if err != nil || len(h.Ops) != 2 || info.Truncated {
				t.Fatalf("terminated: %v, info %+v", err, info)
			}
		})
	}
}

// Case 11: an EDN history written as one vector and cut keeps its
// complete ops and reports the cut, like the line form.
func TestEDNCutVector(t *testing.T) {
	full := `[{:type :invoke, :f :write, :value 1, :process 0, :time 10}
 {:type :ok, :f :write, :value 1, :process 0, :time 20}
 {:type :invoke, :f :read, :value nil, :process 1, :time 30}
 {:type :ok, :f :read, :value 12, :process 1, :time 40}]
`
	h, info, err := ReadEDN(strings.NewReader(full))
	if err != nil || len(h.Ops) != 4 || info.Truncated {
		t.Fatalf("whole vector: %v, info %+v", err, info)
	}
	last := strings.Index(full, " {:type :ok, :f :read")
	for cut := last + 2; cut < len(full)-2; cut++ {
		input := full[:cut]
		h, info, err := ReadEDN(strings.NewReader(input))
		if err != nil {
			t.Fatalf("cut at %d (%q): %v", cut, input[last:], err)
		}
		if len(h.Ops) != 3 || !info.Truncated || info.TruncatedLine != 4 {
			t.Fatalf("cut at %d (%q): %d ops, info %+v", cut, input[last:], len(h.Ops), info)
		}
	}
	// Cut between two ops: the vector is not closed.
	h, info, err = ReadEDN(strings.NewReader(full[:last+1]))
	if err != nil || len(h.Ops) != 3 || !info.Truncated {
		t.Fatalf("cut between ops: %v, %d ops, info %+v", err, len(h.Ops), info)
	}
}

// zeros is an endless input of zero bytes, like /dev/zero, that fails
// once it has been read well past the line bound.
type zeros struct{ n, limit int }

var errReadTooFar = errors.New("read past the line bound")

func (z *zeros) Read(p []byte) (int, error) {
	if z.n > z.limit {
		return 0, errReadTooFar
	}
	clear(p)
	z.n += len(p)
	return len(p), nil
}

// Issue 11 case 5: the EDN reader bounds a line like the other readers,
// in the line form and inside a vector.
func TestEDNLineBound(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 256 MiB")
	}
	for _, prefix := range []string{"", "[{:type :invoke, :f :read, :process 0} "} {
		z := &zeros{limit: maxLineBytes + 1<<20}
		_, _, err := ReadEDN(io.MultiReader(strings.NewReader(prefix), z))
		if err == nil || errors.Is(err, errReadTooFar) || !strings.Contains(err.Error(), "longer than") {
			t.Fatalf("prefix %q: error %v after %d bytes, want the line bound", prefix, err, z.n)
		}
	}
}

// Case 13: a huge input value is never echoed whole into an error.
func TestErrorsBoundQuotedInput(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name, input string
		f           Format
	}{
		{"log value", "0\t:invoke\t:write\t\"" + big + "\n0\t:ok\t:write\t1\n", FormatJepsenLog},
		{"log process", strings.Repeat("9", 1<<20) + "\t:invoke\t:read\tnil\n", FormatJepsenLog},
		{"edn type", "{:type :" + big + ", :f :read, :process 0}\n", FormatEDN},
		{"edn number", "{:type :invoke, :f :read, :process 0, :value 1" + big + "}\n", FormatEDN},
		{"edn value", "{:type :invoke, :f :read, :process 0, :value #{{:a \"" + big + "\"}}}\n", FormatEDN},
		{"edn completion", "{:type :ok, :f :read, :process 0, :value {:a :" + big + "}}\n", FormatEDN},
		{"jsonl type", `{"index":0,"time":0,"type":"` + big + `","process":0,"f":"read","value":null}` + "\n", FormatJSONL},
		{"jsonl number", `{"index":0,"time":0,"type":"invoke","process":0,"f":"read","value":1` + strings.Repeat("0", 1<<20) + `}` + "\n", FormatJSONL},
		{"undetected", big + "\n", FormatAuto},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Read(strings.NewReader(tc.input), tc.f)
			if err == nil {
				t.Fatal("no error")
			}
			if n := len(err.Error()); n > 1000 {
				t.Fatalf("error of %d bytes: %.300s...", n, err)
			}
		})
	}
}

// A bare event line whose value names the logger is read as it is: only
// the text before an event is a logger prefix.
func TestJepsenLogBareLineNamingLogger(t *testing.T) {
	log := "0\t:invoke\t:write\t\"see jepsen.util 1\t:ok\t:read\t2\"\n0\t:ok\t:write\t\"x\"\n"
	h, _, err := ReadJepsenLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Ops) != 2 || h.Ops[0].F != "write" || !h.Ops[0].Value.Equal(Str("see jepsen.util 1\t:ok\t:read\t2")) {
		t.Fatalf("ops %v", h.Ops)
	}
}

// A console log whose first events come after more than the detection
// window of setup output (installing packages, starting nodes) is still
// detected, from its Jepsen logger lines.
func TestDetectJepsenLogAfterLongSetup(t *testing.T) {
	setup := strings.Repeat("INFO [2021-02-23 10:30:50,001] jepsen node n1 - jepsen.control.util Installing package\n", 1000)
	log := setup + "INFO [2021-02-23 10:30:56,288] jepsen worker 0 - jepsen.util 0\t:invoke\t:broadcast\t0\n" +
		"INFO [2021-02-23 10:30:56,290] jepsen worker 0 - jepsen.util 0\t:ok\t:broadcast\t0\n"
	if len(setup) <= detectBytes {
		t.Fatalf("setup of %d bytes fits in the detection window", len(setup))
	}
	h, info, err := Read(strings.NewReader(log), FormatAuto)
	if err != nil || len(h.Ops) != 2 || info.Format != FormatJepsenLog {
		t.Fatalf("%v, info %+v", err, info)
	}
}

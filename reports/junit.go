package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// JUnit XML, in the shape CI systems read (Jenkins, GitLab, GitHub
// reporters): one testsuite, one testcase per check.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Tests   int          `xml:"tests,attr"`
	Fail    int          `xml:"failures,attr"`
	Errors  int          `xml:"errors,attr"`
	Time    string       `xml:"time,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string         `xml:"name,attr"`
	Tests     int            `xml:"tests,attr"`
	Failures  int            `xml:"failures,attr"`
	Errors    int            `xml:"errors,attr"`
	Skipped   int            `xml:"skipped,attr"`
	Time      string         `xml:"time,attr"`
	Props     *junitProps    `xml:"properties,omitempty"`
	Cases     []junitCase    `xml:"testcase"`
	SystemErr *junitCharData `xml:"system-err,omitempty"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitCharData struct {
	Text string `xml:",chardata"`
}

// maxJUnitWitnesses caps the anomalies listed in one failure's text.
const maxJUnitWitnesses = 20

// WriteJUnit writes res as JUnit XML: one testcase per check, classname
// the workload ("chaoscheck" when none) and name the checker. An invalid
// check is a failure whose message summarizes the anomalies
// ("stale-read=3 lost=1") and whose text lists witnesses; a check that
// could not decide (unknown) is an error carrying its reason, since an
// unverified guarantee must not pass. Problems of the run itself go to
// the suite's system-err.
func WriteJUnit(w io.Writer, res rundir.Results) error {
	secs := strconv.FormatFloat(float64(res.Stats.DurationNS)/1e9, 'f', 3, 64)
	suite := junitSuite{Name: "chaoscheck", Tests: len(res.Checks), Time: secs}
	suite.Props = &junitProps{Props: []junitProp{
		{Name: "verdict", Value: string(res.Verdict)},
		{Name: "invocations", Value: strconv.Itoa(res.Stats.Invocations)},
		{Name: "history", Value: res.History},
	}}
	for i := range res.Checks {
		c := &res.Checks[i]
		tc := junitCase{Classname: c.Workload, Name: c.Checker, Time: "0"}
		if tc.Classname == "" {
			tc.Classname = "chaoscheck"
		}
		switch c.Verdict {
		case checkers.Valid:
		case checkers.Invalid:
			suite.Failures++
			tc.Failure = &junitProblem{
				Message: "anomalies: " + countsSummary(c.AnomalyCounts),
				Type:    "invalid",
				Text:    failureText(&c.Result),
			}
		default:
			suite.Errors++
			reason := c.Reason
			if reason == "" {
				reason = "the checker could not decide and gave no reason"
			}
			tc.Error = &junitProblem{Message: "verdict unknown: " + firstLine(reason), Type: "unknown", Text: reason}
		}
		suite.Cases = append(suite.Cases, tc)
	}
	var sysErr []string
	if res.Interrupted {
		sysErr = append(sysErr, "the run was interrupted: the history was checked as far as it got")
	}
	sysErr = append(sysErr, res.Errors...)
	if len(sysErr) > 0 {
		suite.SystemErr = &junitCharData{Text: strings.Join(sysErr, "\n")}
	}
	doc := junitSuites{Name: "chaoscheck", Tests: suite.Tests, Fail: suite.Failures, Errors: suite.Errors, Time: secs, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

// failureText lists the witnesses of an invalid result.
func failureText(r *checkers.Result) string {
	var b strings.Builder
	if r.Reason != "" {
		b.WriteString(r.Reason)
		b.WriteString("\n")
	}
	for i, a := range r.Anomalies {
		if i == maxJUnitWitnesses {
			fmt.Fprintf(&b, "... %d more listed in results.json\n", len(r.Anomalies)-i)
			break
		}
		fmt.Fprintf(&b, "%s", a.Kind)
		if a.Key != "" {
			fmt.Fprintf(&b, " key %q", a.Key)
		}
		fmt.Fprintf(&b, " ops %s: %s\n", opList(a.Ops), a.Message)
	}
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

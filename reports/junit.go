package reports

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/internal/junit"
	"github.com/chaoscheck/chaoscheck/rundir"
)

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
	suite := junit.Suite{Name: "chaoscheck", Tests: len(res.Checks), Time: junit.Seconds(res.Stats.DurationNS)}
	suite.Props = &junit.Props{Props: []junit.Prop{
		{Name: "verdict", Value: string(res.Verdict)},
		{Name: "invocations", Value: strconv.Itoa(res.Stats.Invocations)},
		{Name: "history", Value: res.History},
	}}
	for i := range res.Checks {
		c := &res.Checks[i]
		tc := junit.Case{Classname: c.Workload, Name: c.Checker, Time: "0"}
		if tc.Classname == "" {
			tc.Classname = "chaoscheck"
		}
		switch c.Verdict {
		case checkers.Valid:
		case checkers.Invalid:
			suite.Failures++
			tc.Failure = &junit.Problem{
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
			tc.Error = &junit.Problem{Message: "verdict unknown: " + firstLine(reason), Type: "unknown", Text: reason}
		}
		suite.Cases = append(suite.Cases, tc)
	}
	var sysErr []string
	if res.Interrupted {
		sysErr = append(sysErr, "the run was interrupted: the history was checked as far as it got")
	}
	sysErr = append(sysErr, res.Errors...)
	if len(sysErr) > 0 {
		suite.SystemErr = &junit.CharData{Text: strings.Join(sysErr, "\n")}
	}
	return junit.Write(w, junit.Of(suite))
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

// Package junit is JUnit XML in the shape CI systems read (Jenkins,
// GitLab, GitHub reporters): a document of test suites of test cases,
// each case passing, failing (an expectation did not hold) or in error
// (it could not be decided or run). chaoscheck writes one for a run
// (reports.WriteJUnit: a case per check) and one for a suite (a case per
// cell).
package junit

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
)

// Suites is the document.
type Suites struct {
	XMLName xml.Name `xml:"testsuites"`
	Name    string   `xml:"name,attr"`
	Tests   int      `xml:"tests,attr"`
	Fail    int      `xml:"failures,attr"`
	Errors  int      `xml:"errors,attr"`
	Time    string   `xml:"time,attr"`
	Suites  []Suite  `xml:"testsuite"`
}

// Suite is one test suite.
type Suite struct {
	Name      string    `xml:"name,attr"`
	Tests     int       `xml:"tests,attr"`
	Failures  int       `xml:"failures,attr"`
	Errors    int       `xml:"errors,attr"`
	Skipped   int       `xml:"skipped,attr"`
	Time      string    `xml:"time,attr"`
	Props     *Props    `xml:"properties,omitempty"`
	Cases     []Case    `xml:"testcase"`
	SystemErr *CharData `xml:"system-err,omitempty"`
}

// Props are a suite's properties.
type Props struct {
	Props []Prop `xml:"property"`
}

// Prop is one property.
type Prop struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Case is one test case: Failure or Error set when it did not pass.
type Case struct {
	Classname string   `xml:"classname,attr"`
	Name      string   `xml:"name,attr"`
	Time      string   `xml:"time,attr"`
	Failure   *Problem `xml:"failure,omitempty"`
	Error     *Problem `xml:"error,omitempty"`
	SystemOut string   `xml:"system-out,omitempty"`
}

// Problem is a failure or an error: a one-line message, a type and the
// details.
type Problem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// CharData is text in an element of its own (system-err).
type CharData struct {
	Text string `xml:",chardata"`
}

// Seconds renders a duration in ns as JUnit's seconds.
func Seconds(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64) }

// Of makes the document of one suite, with the totals its own.
func Of(s Suite) Suites {
	return Suites{Name: s.Name, Tests: s.Tests, Fail: s.Failures, Errors: s.Errors, Time: s.Time, Suites: []Suite{s}}
}

// Write writes doc, with the XML header and a final newline.
func Write(w io.Writer, doc Suites) error {
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

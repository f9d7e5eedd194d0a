// Package suite runs test suites for CI (chaoscheck suite run FILE): a
// YAML or TOML file of named cases, each a set of `chaoscheck test` settings and
// the expectations its run must meet, with matrix expansion. Cases whose
// settings deploy the same cluster share one deployment (the data reset
// between them, targets.Resetter); the output is one suite directory
// holding every run's directory, a summary page (configurations as rows,
// faults as columns), a suite-level junit.xml and results.json.
//
// The schema is documented in docs/suites.md. A case's settings are not
// interpreted here: they are the flags of `chaoscheck test`, handed to a
// Builder (the command line's own flag parsing and validation), so a
// suite case and a command line mean the same test.
package suite

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/chaoscheck/chaoscheck/rundir"
)

// File is a parsed suite file.
type File struct {
	// Path is the file as given (error messages start with its base name).
	Path string
	// Name names the suite (its directory in the store).
	Name        string
	Description string
	// Defaults are settings of every case (a case's own win).
	Defaults []Setting
	Cases    []Case
}

// Setting is one `chaoscheck test` flag of a case, without its dashes.
type Setting struct {
	Key string
	// Values: one for a scalar, each element of a list (a list flag such
	// as workload or nemesis is given once per element).
	Values []string
	// List marks a value written as a YAML list.
	List bool
	Line int
}

// Value renders the setting as the summary shows it.
func (s Setting) Value() string { return strings.Join(s.Values, ",") }

// Args are the command-line arguments of the setting.
func (s Setting) Args() []string {
	if len(s.Values) == 0 {
		// An empty list: the flag given empty (e.g. no consistency model).
		return []string{"--" + s.Key + "="}
	}
	out := make([]string, len(s.Values))
	for i, v := range s.Values {
		out[i] = "--" + s.Key + "=" + v
	}
	return out
}

// Case is one named case of the file.
type Case struct {
	Name        string
	Description string
	Line        int
	Settings    []Setting
	// Matrix are the axes of a matrix case, in file order: the case
	// expands to one cell per combination (the last axis varies fastest).
	Matrix []Axis
	// Expect applies to every cell that no rule of Cells matches.
	Expect []ExpectSpec
	Cells  []CellRule
}

// Axis is one matrix dimension: a setting and its values.
type Axis struct {
	Key    string
	Values []Setting // Key set, one per value
	Line   int
}

// CellRule gives the cells whose matrix values match When their own
// expectations (the last matching rule with expect: wins) and settings
// (of every matching rule, in order, over the matrix values).
type CellRule struct {
	When     map[string]string
	Expect   []ExpectSpec
	Settings []Setting
	Line     int
}

// ExpectSpec is an expectation as written: a kind and its argument.
type ExpectSpec struct {
	Kind string
	Arg  string
	Line int
}

// LineError is an error at a line of the suite file, rendered as
// "file:line: message".
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ErrBadFile marks errors of the suite file itself (exit 254):
// errors.Is(err, ErrBadFile).
var ErrBadFile = errors.New("bad suite file")

// badFile is an error of the suite file; its message is the wrapped
// error's alone.
type badFile struct{ error }

func (badFile) Is(target error) bool { return target == ErrBadFile }
func (e badFile) Unwrap() error      { return e.error }

// reserved are the settings a suite manages itself.
var reserved = map[string]string{
	"store":  "the suite's --store holds every run",
	"name":   "each run is named after its case",
	"expect": "a case states its expectations under expect:",
}

// caseKeys are the keys of a case that are not test settings.
var caseKeys = map[string]bool{"name": true, "description": true, "matrix": true, "expect": true, "cells": true}

// ReadFile reads and parses the suite file at path.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, badFile{err}
	}
	return Parse(path, b)
}

// parser carries the file name into errors.
type parser struct{ file string }

func (p *parser) errf(line int, format string, args ...any) error {
	return badFile{&LineError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}}
}

// Parse parses a suite file's bytes, YAML or, for a name ending in .toml,
// TOML (see tomlNodes); path names it in errors. It checks
// the file's shape (keys, types, names, expectation syntax); the
// settings' meaning is checked by Plan, through the Builder.
func Parse(path string, b []byte) (*File, error) {
	p := &parser{file: filepath.Base(path)}
	doc := &yaml.Node{}
	if isTOML(path) {
		var err error
		if doc, err = p.tomlNodes(b); err != nil {
			return nil, err
		}
	} else if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(doc); err != nil {
		return nil, p.errf(0, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil, p.errf(0, "empty file")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, p.errf(root.Line, "the file must be a mapping with suite: and cases:")
	}
	f := &File{Path: path}
	seen := map[string]bool{}
	var casesNode *yaml.Node
	for i := 0; i < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, p.errf(k.Line, "%s given twice", k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "suite":
			s, err := p.scalar(v, "suite")
			if err != nil {
				return nil, err
			}
			if err := rundir.ValidateName(s); err != nil {
				return nil, p.errf(v.Line, "suite: %v", err)
			}
			f.Name = s
		case "description":
			s, err := p.scalar(v, "description")
			if err != nil {
				return nil, err
			}
			f.Description = s
		case "defaults":
			ss, err := p.settings(v, "defaults", nil)
			if err != nil {
				return nil, err
			}
			f.Defaults = ss
		case "cases":
			casesNode = v
		default:
			return nil, p.errf(k.Line, "unknown key %q (suite, description, defaults, cases)", k.Value)
		}
	}
	if f.Name == "" {
		return nil, p.errf(root.Line, "suite: (the suite's name) is missing")
	}
	if casesNode == nil {
		return nil, p.errf(root.Line, "cases: is missing")
	}
	if casesNode.Kind != yaml.SequenceNode || len(casesNode.Content) == 0 {
		return nil, p.errf(casesNode.Line, "cases: must be a list of at least one case")
	}
	names := map[string]int{}
	for _, cn := range casesNode.Content {
		c, err := p.caseOf(cn)
		if err != nil {
			return nil, err
		}
		if l, ok := names[c.Name]; ok {
			return nil, p.errf(c.Line, "case %q: the name is already used at line %d", c.Name, l)
		}
		names[c.Name] = c.Line
		f.Cases = append(f.Cases, c)
	}
	return f, nil
}

func (p *parser) scalar(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errf(n.Line, "%s must be a single value", what)
	}
	return n.Value, nil
}

// settings reads a mapping of test settings; skip are keys left to the
// caller.
func (p *parser) settings(n *yaml.Node, where string, skip map[string]bool) ([]Setting, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n.Line, "%s must be a mapping of settings", where)
	}
	var out []Setting
	seen := map[string]bool{}
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if skip[k.Value] {
			continue
		}
		if seen[k.Value] {
			return nil, p.errf(k.Line, "%s: %s given twice", where, k.Value)
		}
		seen[k.Value] = true
		s, err := p.setting(k, v, where)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *parser) setting(k, v *yaml.Node, where string) (Setting, error) {
	key := strings.TrimPrefix(k.Value, "--")
	if why, ok := reserved[key]; ok {
		return Setting{}, p.errf(k.Line, "%s: %s is not a case setting: %s", where, key, why)
	}
	if key == "" {
		return Setting{}, p.errf(k.Line, "%s: empty setting name", where)
	}
	s := Setting{Key: key, Line: k.Line}
	switch v.Kind {
	case yaml.ScalarNode:
		s.Values = []string{v.Value}
	case yaml.SequenceNode:
		s.List = true
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode {
				return Setting{}, p.errf(e.Line, "%s: %s: a list of single values", where, key)
			}
			s.Values = append(s.Values, e.Value)
		}
	default:
		return Setting{}, p.errf(v.Line, "%s: %s: a value or a list of values", where, key)
	}
	return s, nil
}

func (p *parser) caseOf(n *yaml.Node) (Case, error) {
	if n.Kind != yaml.MappingNode {
		return Case{}, p.errf(n.Line, "a case must be a mapping (name:, settings, expect:)")
	}
	c := Case{Line: n.Line}
	get := map[string]*yaml.Node{}
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if caseKeys[k.Value] {
			if get[k.Value] != nil {
				return Case{}, p.errf(k.Line, "%s given twice", k.Value)
			}
			get[k.Value] = v
		}
	}
	nn := get["name"]
	if nn == nil {
		return Case{}, p.errf(n.Line, "a case needs a name:")
	}
	name, err := p.scalar(nn, "name")
	if err != nil {
		return Case{}, err
	}
	if err := rundir.ValidateName(name); err != nil {
		return Case{}, p.errf(nn.Line, "case name: %v", err)
	}
	c.Name = name
	where := fmt.Sprintf("case %q", name)
	if d := get["description"]; d != nil {
		if c.Description, err = p.scalar(d, where+": description"); err != nil {
			return Case{}, err
		}
	}
	if c.Settings, err = p.settings(n, where, caseKeys); err != nil {
		return Case{}, err
	}
	if m := get["matrix"]; m != nil {
		if c.Matrix, err = p.matrix(m, where, c.Settings); err != nil {
			return Case{}, err
		}
	}
	if e := get["expect"]; e != nil {
		if c.Expect, err = p.expects(e, where); err != nil {
			return Case{}, err
		}
	}
	if cl := get["cells"]; cl != nil {
		if len(c.Matrix) == 0 {
			return Case{}, p.errf(cl.Line, "%s: cells: applies to a matrix case (matrix: is missing)", where)
		}
		if c.Cells, err = p.cellRules(cl, where, c.Matrix); err != nil {
			return Case{}, err
		}
	}
	if len(c.Expect) == 0 && len(c.Cells) == 0 {
		return Case{}, p.errf(n.Line, "%s: expect: is missing (what must hold: valid, invalid, anomaly: KIND, a bound...)", where)
	}
	return c, nil
}

func (p *parser) matrix(n *yaml.Node, where string, own []Setting) ([]Axis, error) {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		return nil, p.errf(n.Line, "%s: matrix: a mapping of settings to lists of values", where)
	}
	var out []Axis
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := strings.TrimPrefix(k.Value, "--")
		for _, s := range own {
			if s.Key == key {
				return nil, p.errf(k.Line, "%s: %s is both a setting (line %d) and a matrix axis", where, key, s.Line)
			}
		}
		for _, a := range out {
			if a.Key == key {
				return nil, p.errf(k.Line, "%s: matrix: %s given twice", where, key)
			}
		}
		if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			return nil, p.errf(v.Line, "%s: matrix: %s: a list of at least one value", where, key)
		}
		ax := Axis{Key: key, Line: k.Line}
		labels := map[string]bool{}
		for _, e := range v.Content {
			s, err := p.setting(&yaml.Node{Value: key, Line: e.Line}, e, where+": matrix")
			if err != nil {
				return nil, err
			}
			if labels[s.Label()] {
				return nil, p.errf(e.Line, "%s: matrix: %s: %s given twice", where, key, s.Label())
			}
			labels[s.Label()] = true
			ax.Values = append(ax.Values, s)
		}
		out = append(out, ax)
	}
	return out, nil
}

// Label is the setting's value as a cell label: list elements joined by
// "+" ("none" for an empty list).
func (s Setting) Label() string {
	if len(s.Values) == 0 {
		return "none"
	}
	return strings.Join(s.Values, "+")
}

func (p *parser) cellRules(n *yaml.Node, where string, axes []Axis) ([]CellRule, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n.Line, "%s: cells: a list of {when: {...}, expect: ...}", where)
	}
	var out []CellRule
	for _, rn := range n.Content {
		if rn.Kind != yaml.MappingNode {
			return nil, p.errf(rn.Line, "%s: cells: each rule is {when: {...}, expect: ...}", where)
		}
		r := CellRule{Line: rn.Line, When: map[string]string{}}
		var haveWhen bool
		for i := 0; i < len(rn.Content); i += 2 {
			k, v := rn.Content[i], rn.Content[i+1]
			switch k.Value {
			case "when":
				haveWhen = true
				if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
					return nil, p.errf(v.Line, "%s: cells: when: a mapping of matrix settings to values", where)
				}
				for j := 0; j < len(v.Content); j += 2 {
					wk, wv := v.Content[j], v.Content[j+1]
					key := strings.TrimPrefix(wk.Value, "--")
					var ax *Axis
					for a := range axes {
						if axes[a].Key == key {
							ax = &axes[a]
						}
					}
					if ax == nil {
						return nil, p.errf(wk.Line, "%s: cells: when: %s is not a matrix axis", where, key)
					}
					s, err := p.setting(&yaml.Node{Value: key, Line: wv.Line}, wv, where+": cells")
					if err != nil {
						return nil, err
					}
					found := false
					for _, av := range ax.Values {
						found = found || av.Label() == s.Label()
					}
					if !found {
						return nil, p.errf(wv.Line, "%s: cells: when: %s: %s is not one of the matrix's values", where, key, s.Label())
					}
					r.When[key] = s.Label()
				}
			case "expect":
				es, err := p.expects(v, where+": cells")
				if err != nil {
					return nil, err
				}
				r.Expect = es
			default:
				for _, ax := range axes {
					if ax.Key == strings.TrimPrefix(k.Value, "--") {
						return nil, p.errf(k.Line, "%s: cells: %s is a matrix axis: a rule cannot set it", where, ax.Key)
					}
				}
				st, err := p.setting(k, v, where+": cells")
				if err != nil {
					return nil, err
				}
				r.Settings = append(r.Settings, st)
			}
		}
		if !haveWhen || (len(r.Expect) == 0 && len(r.Settings) == 0) {
			return nil, p.errf(rn.Line, "%s: cells: a rule needs when: and expect: or settings", where)
		}
		out = append(out, r)
	}
	return out, nil
}

// expects reads an expectation list: a single expectation or a list, each
// a word (valid) or a one-key mapping (anomaly: lost).
func (p *parser) expects(n *yaml.Node, where string) ([]ExpectSpec, error) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	if len(items) == 0 {
		return nil, p.errf(n.Line, "%s: expect: is empty", where)
	}
	var out []ExpectSpec
	for _, it := range items {
		var s ExpectSpec
		switch it.Kind {
		case yaml.ScalarNode:
			s = ExpectSpec{Kind: it.Value, Line: it.Line}
		case yaml.MappingNode:
			if len(it.Content) != 2 || it.Content[1].Kind != yaml.ScalarNode {
				return nil, p.errf(it.Line, "%s: expect: each expectation is a word or one kind: value", where)
			}
			s = ExpectSpec{Kind: it.Content[0].Value, Arg: it.Content[1].Value, Line: it.Line}
		default:
			return nil, p.errf(it.Line, "%s: expect: each expectation is a word or one kind: value", where)
		}
		if _, err := ParseExpectation(s.Kind, s.Arg); err != nil {
			return nil, p.errf(s.Line, "%s: expect: %v", where, err)
		}
		out = append(out, s)
	}
	return out, nil
}

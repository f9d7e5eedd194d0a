package suite

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/targets"
)

// Builder turns a cell's settings, as the command-line arguments of
// `chaoscheck test` (--key=value...), into the test, with the command
// line's own parsing and validation: a suite case means exactly what the
// same flags mean. It deploys nothing.
type Builder func(args []string) (Built, error)

// Built is a cell's test, ready to run.
type Built struct {
	Config runner.Config
	// DeployKey is equal for cells that deploy the same cluster (the
	// target, its runtime and image, and every target flag): they share
	// one deployment, with the data reset between them.
	DeployKey string
	// Probe checks the target and its runtime before anything is
	// deployed (nil: nothing to probe).
	Probe func(ctx context.Context) error
}

// Cell is one run of a suite: a case, or one combination of a matrix
// case.
type Cell struct {
	// Name names the run (its directory in the suite directory).
	Name string
	Case string
	// Line is the case's line in the file.
	Line int
	// Row and Column place the cell in the summary's matrix:
	// the configuration (the case, and its matrix values other than
	// the nemesis) and the faults.
	Row, Column string
	// Matrix are the cell's matrix values, in axis order.
	Matrix []Setting
	// Settings are the cell's effective settings: defaults, then the
	// case's, then its matrix values.
	Settings []Setting
	Expect   []Expectation
	// Args are the `chaoscheck test` arguments of the cell.
	Args []string
	// Group is the index of the first cell of the cells that share its
	// deployment (its own index when it deploys its own).
	Group int

	built Built
}

// Plan is a validated suite: its cells, in run order.
type Plan struct {
	File  *File
	Cells []Cell
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// PlanOptions select and adjust the cells of a plan.
type PlanOptions struct {
	// Only selects the cells of these cases, or these cells (none: all).
	Only []string
	// Set overrides settings of every cell, after the file's (e.g.
	// time-limit=2s for a short CI run): KEY=VALUE.
	Set []string
}

// NewPlan expands the file's matrices and builds every cell through b,
// so that every setting is checked before anything runs. Errors name
// the file and the line.
func NewPlan(f *File, b Builder, o PlanOptions) (*Plan, error) {
	only := o.Only
	var over []Setting
	for _, kv := range o.Set {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimPrefix(strings.TrimSpace(k), "--")
		if !ok || k == "" {
			return nil, badFile{fmt.Errorf("--set %q: write KEY=VALUE, e.g. time-limit=2s", kv)}
		}
		if why, bad := reserved[k]; bad {
			return nil, badFile{fmt.Errorf("--set %s: not a case setting: %s", k, why)}
		}
		over = append(over, Setting{Key: k, Values: []string{v}})
	}
	p := &parser{file: baseName(f.Path)}
	pl := &Plan{File: f}
	names := map[string]string{}
	for _, c := range f.Cases {
		cells, err := expand(p, f, c, over)
		if err != nil {
			return nil, err
		}
		for _, cell := range cells {
			if other, ok := names[cell.Name]; ok {
				return nil, p.errf(c.Line, "case %q: cell %s has the name of a cell of case %q: rename a case", c.Name, cell.Name, other)
			}
			names[cell.Name] = c.Name
			pl.Cells = append(pl.Cells, cell)
		}
	}
	if len(only) > 0 {
		var kept []Cell
		for _, o := range only {
			found := false
			for _, c := range pl.Cells {
				if c.Case == o || c.Name == o {
					found = true
				}
			}
			if !found {
				return nil, badFile{fmt.Errorf("--only %s: no case or cell of that name in %s", o, baseName(f.Path))}
			}
		}
		for _, c := range pl.Cells {
			for _, o := range only {
				if c.Case == o || c.Name == o {
					kept = append(kept, c)
					break
				}
			}
		}
		pl.Cells = kept
	}
	for i := range pl.Cells {
		c := &pl.Cells[i]
		built, err := b(c.Args)
		if err != nil {
			return nil, p.errf(locate(err, c), "case %q: %v", c.Case, errText(err))
		}
		built.Config.Name = c.Name
		c.built = built
		c.Column = faultsLabel(built.Config)
	}
	pl.group()
	return pl, nil
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// errText is err's message without the wrapping of the exit-code layer.
func errText(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil || u.Error() != err.Error() {
			return err.Error()
		}
		err = u
	}
}

// locate finds the line of the setting an error of the builder is about:
// the setting whose flag (--key) or quoted value it names; otherwise the
// case's line. It only places the error in the file; the message is the
// builder's.
func locate(err error, c *Cell) int {
	msg := err.Error()
	for i := len(c.Settings) - 1; i >= 0; i-- {
		s := c.Settings[i]
		if strings.Contains(msg, "--"+s.Key+" ") || strings.Contains(msg, "--"+s.Key+":") || strings.Contains(msg, "--"+s.Key+"\"") || strings.HasSuffix(msg, "--"+s.Key) {
			return s.Line
		}
	}
	for i := len(c.Settings) - 1; i >= 0; i-- {
		for _, v := range c.Settings[i].Values {
			if v != "" && strings.Contains(msg, fmt.Sprintf("%q", v)) {
				return c.Settings[i].Line
			}
		}
	}
	return c.Line
}

// faultsLabel names a test's faults: their names joined by "+", or none.
func faultsLabel(cfg runner.Config) string {
	if len(cfg.Faults) == 0 {
		return "none"
	}
	names := make([]string, len(cfg.Faults))
	for i, f := range cfg.Faults {
		names[i] = nemesis.Label(f)
	}
	return strings.Join(names, "+")
}

// expand makes the cells of one case.
func expand(p *parser, f *File, c Case, over []Setting) ([]Cell, error) {
	base := merge(f.Defaults, c.Settings)
	combos := [][]Setting{nil}
	for _, ax := range c.Matrix {
		var next [][]Setting
		for _, prefix := range combos {
			for _, v := range ax.Values {
				next = append(next, append(append([]Setting(nil), prefix...), v))
			}
		}
		combos = next
	}
	var out []Cell
	for _, m := range combos {
		cell := Cell{Case: c.Name, Line: c.Line, Matrix: m, Settings: merge(base, m), Name: c.Name, Row: c.Name}
		for _, r := range c.Cells {
			if matches(r, m) {
				cell.Settings = merge(cell.Settings, r.Settings)
			}
		}
		cell.Settings = merge(cell.Settings, over)
		var labels, rowParts []string
		for _, s := range m {
			labels = append(labels, s.Label())
			if s.Key != "nemesis" {
				rowParts = append(rowParts, s.Key+"="+s.Label())
			}
		}
		if len(labels) > 0 {
			cell.Name = c.Name + "-" + nameUnsafe.ReplaceAllString(strings.Join(labels, "-"), "_")
			if len(cell.Name) > 100 {
				cell.Name = cell.Name[:100]
			}
		}
		if len(rowParts) > 0 {
			cell.Row = c.Name + " " + strings.Join(rowParts, " ")
		}
		if err := rundir.ValidateName(cell.Name); err != nil {
			return nil, p.errf(c.Line, "case %q: %v", c.Name, err)
		}
		specs := c.Expect
		for _, r := range c.Cells {
			if matches(r, m) && len(r.Expect) > 0 {
				specs = r.Expect
			}
		}
		if len(specs) == 0 {
			return nil, p.errf(c.Line, "case %q: cell %s: no expectation (expect: of the case, or a cells: rule that matches it)", c.Name, strings.Join(labels, ", "))
		}
		for _, s := range specs {
			e, err := ParseExpectation(s.Kind, s.Arg)
			if err != nil {
				return nil, p.errf(s.Line, "case %q: %v", c.Name, err)
			}
			cell.Expect = append(cell.Expect, e)
		}
		for _, s := range cell.Settings {
			cell.Args = append(cell.Args, s.Args()...)
		}
		out = append(out, cell)
	}
	return out, nil
}

// matches reports whether a rule's when: holds for the matrix values m.
func matches(r CellRule, m []Setting) bool {
	for k, v := range r.When {
		ok := false
		for _, s := range m {
			ok = ok || (s.Key == k && s.Label() == v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// merge overlays over on base: a key of over replaces base's (in base's
// place), new keys are appended.
func merge(base, over []Setting) []Setting {
	out := append([]Setting(nil), base...)
	for _, o := range over {
		replaced := false
		for i := range out {
			if out[i].Key == o.Key {
				out[i] = o
				replaced = true
			}
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}

// group assigns each cell the first cell of the run of cells that share
// its deployment: consecutive cells with the same deploy key, or whose
// target can run on the deployment of the group's first cell
// (targets.Rebinder).
func (pl *Plan) group() {
	for i := range pl.Cells {
		c := &pl.Cells[i]
		c.Group = i
		if i == 0 {
			continue
		}
		g := pl.Cells[pl.Cells[i-1].Group]
		if sharesWith(g.built, c.built) {
			c.Group = g.Group
		}
	}
}

// sharesWith reports whether the test b can run on a deployment of a's.
func sharesWith(a, b Built) bool {
	if a.DeployKey != "" && a.DeployKey == b.DeployKey {
		return true
	}
	rb, ok := a.Config.Target.(targets.Rebinder)
	return ok && a.Config.Target.Name() == b.Config.Target.Name() && rb.SameDeployment(b.Config.Target) == nil
}

// Built returns the cell's test.
func (c *Cell) Built() Built { return c.built }

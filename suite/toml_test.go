package suite

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// stripLines zeroes the lines and the path of f, which differ between a
// YAML file and its TOML twin.
func stripLines(f *File) {
	f.Path = ""
	strip := func(ss []Setting) {
		for i := range ss {
			ss[i].Line = 0
		}
	}
	stripE := func(es []ExpectSpec) {
		for i := range es {
			es[i].Line = 0
		}
	}
	strip(f.Defaults)
	for ci := range f.Cases {
		c := &f.Cases[ci]
		c.Line = 0
		strip(c.Settings)
		stripE(c.Expect)
		for ai := range c.Matrix {
			c.Matrix[ai].Line = 0
			strip(c.Matrix[ai].Values)
		}
		for ri := range c.Cells {
			c.Cells[ri].Line = 0
			strip(c.Cells[ri].Settings)
			stripE(c.Cells[ri].Expect)
		}
	}
}

// A TOML suite file means what its YAML twin means: every setting, list,
// matrix axis, cell rule and expectation, in the same order.
func TestTOMLMatchesYAML(t *testing.T) {
	const yamlDoc = `suite: twin
description: both forms
defaults:
  time-limit: 3s
  concurrency: 6
  cas: false
cases:
  - name: plain
    target: sim
    workload: [register, set]
    nemesis: [partition, kill]
    expect:
      - valid
      - availability: ">= 50%"
  - name: grid
    description: a matrix
    matrix:
      cl: [QUORUM, ONE]
      nemesis: [none, [partition, kill]]
    cells:
      - when: {nemesis: partition+kill}
        nemesis-interval: 700ms
      - when: {cl: ONE}
        expect: {anomaly: read-your-writes}
    expect: valid
  - name: empty-list
    consistency-models: []
    rate: 1500.5
    expect: invalid
`
	const tomlDoc = `suite = "twin"
description = "both forms"

[defaults]
time-limit = "3s"
concurrency = 6
cas = false

[[cases]]
name = "plain"
target = "sim"
workload = ["register", "set"]
nemesis = [
  "partition", # a comment inside an array
  "kill",
]
expect = ["valid", { availability = ">= 50%" }]

[[cases]]
name = "grid"
description = "a matrix"
expect = "valid"
[cases.matrix]
cl = ["QUORUM", "ONE"]
nemesis = ["none", ["partition", "kill"]]
[[cases.cells]]
when = { nemesis = "partition+kill" }
nemesis-interval = "700ms"
[[cases.cells]]
when = { cl = "ONE" }
expect = { anomaly = "read-your-writes" }

[[cases]]
name = "empty-list"
consistency-models = []
rate = 1_500.5
expect = "invalid"
`
	fy, err := Parse("twin.yaml", []byte(yamlDoc))
	if err != nil {
		t.Fatal(err)
	}
	ft, err := Parse("twin.toml", []byte(tomlDoc))
	if err != nil {
		t.Fatal(err)
	}
	if ft.Cases[1].Cells[1].Line != 29 || ft.Cases[1].Matrix[1].Line != 25 {
		t.Errorf("TOML lines: cell rule at %d (want 29), axis at %d (want 25)", ft.Cases[1].Cells[1].Line, ft.Cases[1].Matrix[1].Line)
	}
	stripLines(fy)
	stripLines(ft)
	jy, _ := json.MarshalIndent(fy, "", " ")
	jt, _ := json.MarshalIndent(ft, "", " ")
	if string(jy) != string(jt) {
		t.Errorf("TOML parses to\n%s\nYAML to\n%s", jt, jy)
	}
}

// TOML errors, of the syntax and of the schema, name the TOML file's line.
func TestTOMLErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"syntax", "suite = \"s\"\n[[cases]]\nname = \"a\"\nexpect = valid\n", "s.toml:4:"},
		{"duplicate key", "suite = \"s\"\n[[cases]]\nname = \"a\"\nexpect = \"valid\"\nexpect = \"invalid\"\n", "s.toml:5:"},
		{"unknown top key", "suite = \"s\"\ncasez = 1\n", `s.toml:2: unknown key "casez"`},
		{"unknown expectation", "suite = \"s\"\n\n[[cases]]\nname = \"a\"\nexpect = [\"valid\",\n  \"vaild\"]\n", `s.toml:6: case "a": expect: unknown expectation "vaild"`},
		{"rule on an absent value", "suite = \"s\"\n[[cases]]\nname = \"a\"\n[cases.matrix]\ncl = [\"ONE\"]\n[[cases.cells]]\nwhen = { cl = \"ALL\" }\nexpect = \"valid\"\n", `s.toml:7: case "a": cells: when: cl: ALL is not one of the matrix's values`},
		{"a date", "suite = \"s\"\n[[cases]]\nname = \"a\"\ntime-limit = 2026-12-02\nexpect = \"valid\"\n", `s.toml:4: a localdate is not a setting value`},
		{"nested setting", "suite = \"s\"\n[[cases]]\nname = \"a\"\nnemesis = { kind = \"kill\" }\nexpect = \"valid\"\n", `s.toml:4: case "a": nemesis: a value or a list`},
	} {
		_, err := Parse("dir/s.toml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", tc.name, err)
		}
	}
}

// The TOML example parses, and holds the cases its comments describe.
func TestTOMLExampleParses(t *testing.T) {
	b, err := os.ReadFile("../examples/quorums.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("quorums.toml", b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "quorums" || len(f.Cases) != 2 || len(f.Cases[0].Matrix) != 2 || len(f.Cases[0].Cells) != 7 {
		t.Errorf("parsed %q with %d cases", f.Name, len(f.Cases))
	}
}

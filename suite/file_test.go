package suite

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"no suite", "cases:\n  - name: a\n    expect: valid\n", "s.yaml:1: suite: (the suite's name) is missing"},
		{"unknown top key", "suite: s\ncasez: []\n", `s.yaml:2: unknown key "casez"`},
		{"no cases", "suite: s\ncases: []\n", "s.yaml:2: cases: must be a list"},
		{"case without name", "suite: s\ncases:\n  - target: sim\n    expect: valid\n", "s.yaml:3: a case needs a name:"},
		{"bad name", "suite: s\ncases:\n  - name: a b\n    expect: valid\n", `s.yaml:3: case name: bad test name "a b"`},
		{"duplicate case", "suite: s\ncases:\n  - name: a\n    expect: valid\n  - name: a\n    expect: valid\n", `s.yaml:5: case "a": the name is already used at line 3`},
		{"no expectation", "suite: s\ncases:\n  - name: a\n    target: sim\n", `s.yaml:3: case "a": expect: is missing`},
		{"unknown expectation", "suite: s\ncases:\n  - name: a\n    expect:\n      - valid\n      - vaild\n", `s.yaml:6: case "a": expect: unknown expectation "vaild"`},
		{"bound without operator", "suite: s\ncases:\n  - name: a\n    expect:\n      - p99-write-latency: 50ms\n", `s.yaml:5: case "a": expect: p99-write-latency: "50ms": write an operator`},
		{"bound with a bad unit", "suite: s\ncases:\n  - name: a\n    expect:\n      - availability: \">= 99 percent\"\n", `is not a percentage`},
		{"word with a value", "suite: s\ncases:\n  - name: a\n    expect:\n      - valid: yes\n", "valid takes no value"},
		{"reserved setting", "suite: s\ncases:\n  - name: a\n    store: /tmp\n    expect: valid\n", `s.yaml:4: case "a": store is not a case setting`},
		{"nested setting", "suite: s\ncases:\n  - name: a\n    nemesis: {kind: kill}\n    expect: valid\n", `s.yaml:4: case "a": nemesis: a value or a list`},
		{"axis also a setting", "suite: s\ncases:\n  - name: a\n    cl: ONE\n    matrix:\n      cl: [ONE]\n    expect: valid\n", `s.yaml:6: case "a": cl is both a setting (line 4) and a matrix axis`},
		{"empty axis", "suite: s\ncases:\n  - name: a\n    matrix:\n      cl: []\n    expect: valid\n", `s.yaml:5: case "a": matrix: cl: a list of at least one value`},
		{"rule on a non-axis", "suite: s\ncases:\n  - name: a\n    matrix:\n      cl: [ONE]\n    cells:\n      - when: {nemesis: kill}\n        expect: valid\n", `s.yaml:7: case "a": cells: when: nemesis is not a matrix axis`},
		{"rule on an absent value", "suite: s\ncases:\n  - name: a\n    matrix:\n      cl: [ONE]\n    cells:\n      - when: {cl: ALL}\n        expect: valid\n", `s.yaml:7: case "a": cells: when: cl: ALL is not one of the matrix's values`},
		{"cells without matrix", "suite: s\ncases:\n  - name: a\n    cells: []\n    expect: valid\n", `s.yaml:4: case "a": cells: applies to a matrix case`},
		{"yaml syntax", "suite: s\ncases:\n  - name: [a\n", "s.yaml: line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("dir/s.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("parsed; want error %q", tc.want)
			}
			if !errors.Is(err, ErrBadFile) {
				t.Errorf("error %v is not ErrBadFile", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseMatrixAndRules(t *testing.T) {
	f, err := Parse("s.yaml", []byte(`suite: s
defaults:
  time-limit: 2s
cases:
  - name: m
    workload: [ryw, register]
    matrix:
      cl: [ONE, QUORUM]
      nemesis: [none, [partition, kill]]
    expect: valid
    cells:
      - when: {cl: ONE}
        expect: {anomaly: read-your-writes}
      - when: {nemesis: partition+kill}
        nemesis-interval: 1s
`))
	if err != nil {
		t.Fatal(err)
	}
	var args [][]string
	var names []string
	pl, err := NewPlan(f, func(a []string) (Built, error) {
		args = append(args, a)
		return Built{}, nil
	}, PlanOptions{Set: []string{"rate=100"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pl.Cells {
		names = append(names, c.Name)
	}
	if got, want := strings.Join(names, " "), "m-ONE-none m-ONE-partition_kill m-QUORUM-none m-QUORUM-partition_kill"; got != want {
		t.Errorf("cells %s, want %s", got, want)
	}
	if got, want := strings.Join(args[1], " "), "--time-limit=2s --workload=ryw --workload=register --cl=ONE --nemesis=partition --nemesis=kill --nemesis-interval=1s --rate=100"; got != want {
		t.Errorf("args of cell 2:\n %s\nwant\n %s", got, want)
	}
	if got := pl.Cells[0].Expect[0].String(); got != "anomaly read-your-writes" {
		t.Errorf("cell 1 expects %s", got)
	}
	if got := pl.Cells[2].Expect[0].String(); got != "verdict valid" {
		t.Errorf("cell 3 expects %s", got)
	}
	if pl.Cells[0].Row != "m cl=ONE" || pl.Cells[1].Row != "m cl=ONE" {
		t.Errorf("rows %q %q", pl.Cells[0].Row, pl.Cells[1].Row)
	}
	if _, err := NewPlan(f, func([]string) (Built, error) { return Built{}, nil }, PlanOptions{Only: []string{"nope"}}); err == nil || !errors.Is(err, ErrBadFile) {
		t.Errorf("--only of no case: %v", err)
	}
}

func TestBuilderErrorsPointAtTheSetting(t *testing.T) {
	f, err := Parse("s.yaml", []byte(`suite: s
cases:
  - name: async-failover
    target: sim
    nemesis: partitoin
    expect: valid
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewPlan(f, func([]string) (Built, error) {
		return Built{}, errors.New(`unknown nemesis "partitoin" (known: none, partition)`)
	}, PlanOptions{})
	want := `s.yaml:5: case "async-failover": unknown nemesis "partitoin"`
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrBadFile) {
		t.Errorf("error %v, want %s...", err, want)
	}
}

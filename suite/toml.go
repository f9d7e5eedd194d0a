package suite

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
	"go.yaml.in/yaml/v3"
)

// A suite file may be TOML (a .toml name) instead of YAML. The schema is
// the same, written the TOML way:
//
//	suite = "cassandra-cl"
//	[defaults]
//	target = "cassandra"
//	[[cases]]
//	name = "cl"
//	[cases.matrix]
//	cl = ["ONE", "QUORUM", "ALL"]
//	[[cases.cells]]
//	when = { cl = "ONE" }
//	expect = { anomaly = "read-your-writes" }
//
// Rather than a second parser of the schema, tomlNodes turns the TOML
// document into the YAML node tree that Parse reads, each node with the
// line it came from, so that both forms give the same File and the same
// line-numbered errors.
//
// Two passes: go-toml's decoder first checks that the document is TOML
// (duplicate keys, a table defined twice, bad values), with the line of
// the first error; then go-toml's AST parser (package unstable, the only
// part of go-toml that gives source positions) gives the expressions in
// file order with their byte ranges. go-toml/v2 is the maintained TOML
// library with that positional AST; BurntSushi/toml gives no positions
// for values.

// tomlNodes parses a TOML suite document into a YAML document node.
func (p *parser) tomlNodes(b []byte) (*yaml.Node, error) {
	var check map[string]any
	if err := toml.Unmarshal(b, &check); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, _ := de.Position()
			return nil, p.errf(line, "%s", strings.TrimPrefix(de.Error(), "toml: "))
		}
		return nil, p.errf(0, "%v", err)
	}
	t := &tomlTree{p: p, root: &yaml.Node{Kind: yaml.MappingNode, Line: 1}}
	var up unstable.Parser
	up.Reset(b)
	t.up = &up
	cur := t.root
	for up.NextExpression() {
		e := up.Expression()
		var err error
		switch e.Kind {
		case unstable.Table:
			cur, err = t.table(e, false)
		case unstable.ArrayTable:
			cur, err = t.table(e, true)
		case unstable.KeyValue:
			err = t.keyValue(cur, e)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := up.Error(); err != nil {
		// The decoder accepted the document: not expected, but said.
		return nil, p.errf(0, "%v", err)
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Line: 1, Content: []*yaml.Node{t.root}}, nil
}

// tomlTree builds the YAML tree of one TOML document.
type tomlTree struct {
	p    *parser
	up   *unstable.Parser
	root *yaml.Node
}

// line is the line of n in the document, or def when n has no range (an
// array).
func (t *tomlTree) line(n *unstable.Node, def int) int {
	if n == nil || n.Raw.Length == 0 {
		return def
	}
	return t.up.Shape(n.Raw).Start.Line
}

// keys returns the parts of a (dotted) key with their lines.
func (t *tomlTree) keys(it unstable.Iterator) (parts []string, lines []int) {
	for it.Next() {
		k := it.Node()
		parts = append(parts, string(k.Data))
		lines = append(lines, t.line(k, 0))
	}
	return parts, lines
}

// child returns the value under key in mapping m, creating a mapping
// there when absent. A sequence (an array of tables) gives its last
// element, as TOML's [a.b] after [[a]] means.
func (t *tomlTree) child(m *yaml.Node, key string, line int) (*yaml.Node, error) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		v := m.Content[i+1]
		switch {
		case v.Kind == yaml.SequenceNode && len(v.Content) > 0 && v.Content[len(v.Content)-1].Kind == yaml.MappingNode:
			return v.Content[len(v.Content)-1], nil
		case v.Kind == yaml.MappingNode:
			return v, nil
		}
		return nil, t.p.errf(line, "%s is a value, not a table", key)
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Line: line}
	m.Content = append(m.Content, scalarNode(key, line), v)
	return v, nil
}

// table handles a [table] or [[array of tables]] header and returns the
// mapping its key-values go into.
func (t *tomlTree) table(e *unstable.Node, array bool) (*yaml.Node, error) {
	parts, lines := t.keys(e.Key())
	m := t.root
	last := len(parts) - 1
	for i, k := range parts[:last] {
		var err error
		if m, err = t.child(m, k, lines[i]); err != nil {
			return nil, err
		}
	}
	if !array {
		return t.child(m, parts[last], lines[last])
	}
	line := lines[last]
	entry := &yaml.Node{Kind: yaml.MappingNode, Line: line}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == parts[last] {
			seq := m.Content[i+1]
			if seq.Kind != yaml.SequenceNode {
				return nil, t.p.errf(line, "%s is not an array of tables", parts[last])
			}
			seq.Content = append(seq.Content, entry)
			return entry, nil
		}
	}
	m.Content = append(m.Content, scalarNode(parts[last], line), &yaml.Node{Kind: yaml.SequenceNode, Line: line, Content: []*yaml.Node{entry}})
	return entry, nil
}

// keyValue adds one key = value (its key possibly dotted) to mapping m.
func (t *tomlTree) keyValue(m *yaml.Node, e *unstable.Node) error {
	parts, lines := t.keys(e.Key())
	last := len(parts) - 1
	for i, k := range parts[:last] {
		var err error
		if m, err = t.child(m, k, lines[i]); err != nil {
			return err
		}
	}
	v, err := t.value(e.Value(), lines[last])
	if err != nil {
		return err
	}
	m.Content = append(m.Content, scalarNode(parts[last], lines[last]), v)
	return nil
}

// value converts a TOML value: strings, numbers and booleans become
// scalars as a flag takes them, arrays sequences, inline tables mappings.
func (t *tomlTree) value(n *unstable.Node, def int) (*yaml.Node, error) {
	line := t.line(n, def)
	switch n.Kind {
	case unstable.String, unstable.Bool:
		return scalarNode(string(n.Data), line), nil
	case unstable.Integer:
		i, err := strconv.ParseInt(string(n.Data), 0, 64)
		if err != nil {
			return nil, t.p.errf(line, "integer %s: %v", n.Data, err)
		}
		return scalarNode(strconv.FormatInt(i, 10), line), nil
	case unstable.Float:
		f, err := strconv.ParseFloat(strings.ReplaceAll(string(n.Data), "_", ""), 64)
		if err != nil {
			return nil, t.p.errf(line, "number %s: %v", n.Data, err)
		}
		return scalarNode(strconv.FormatFloat(f, 'g', -1, 64), line), nil
	case unstable.Array:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Line: line}
		for it := n.Children(); it.Next(); {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			v, err := t.value(c, line)
			if err != nil {
				return nil, err
			}
			if len(seq.Content) == 0 {
				seq.Line = v.Line
			}
			seq.Content = append(seq.Content, v)
		}
		return seq, nil
	case unstable.InlineTable:
		m := &yaml.Node{Kind: yaml.MappingNode, Line: line}
		for it := n.Children(); it.Next(); {
			c := it.Node()
			if c.Kind != unstable.KeyValue {
				continue
			}
			if err := t.keyValue(m, c); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	return nil, t.p.errf(line, "a %s is not a setting value: write it as a string", strings.ToLower(n.Kind.String()))
}

func scalarNode(v string, line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Line: line}
}

// isTOML says whether a suite file is TOML, by its name.
func isTOML(path string) bool { return strings.EqualFold(filepath.Ext(path), ".toml") }

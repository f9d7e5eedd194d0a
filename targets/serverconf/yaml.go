package serverconf

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlDoc is a YAML mapping with the line of every key.
type yamlDoc struct {
	root *yaml.Node // a MappingNode
}

// parseYAML parses text as one YAML mapping (an empty file is an empty
// mapping). Duplicate keys are refused, as Cassandra's loader does.
func parseYAML(text string) (*yamlDoc, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, yamlLineError(err)
	}
	if doc.Kind == 0 { // empty or comments only
		return &yamlDoc{root: &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}}, nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, lineError(max(doc.Line, 1), "expected a mapping of cassandra.yaml keys (key: value lines)")
	}
	root := doc.Content[0]
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if k.Kind != yaml.ScalarNode {
			return nil, lineError(k.Line, "expected a key, got a %s", kindName(k.Kind))
		}
		if prev, ok := seen[k.Value]; ok {
			return nil, lineError(k.Line, "%s is set twice (first at line %d)", k.Value, prev)
		}
		seen[k.Value] = k.Line
	}
	return &yamlDoc{root: root}, nil
}

// yamlLineError turns the YAML library's "yaml: line N: ..." into the
// "N: ..." form of lineError.
func yamlLineError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var n int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &n); scanErr == nil {
		return lineError(n, "%s", strings.TrimSpace(msg[strings.Index(msg, ":")+1:]))
	}
	return lineError(1, "%s", msg)
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	}
	return "scalar"
}

// settings lists the top-level keys, with their values rendered on one
// line (collections in flow style).
func (d *yamlDoc) settings() []Setting {
	var out []Setting
	for i := 0; i+1 < len(d.root.Content); i += 2 {
		k, v := d.root.Content[i], d.root.Content[i+1]
		out = append(out, Setting{Name: k.Value, Value: flowText(v), Line: k.Line})
	}
	return out
}

// flowText renders a value node on one line.
func flowText(v *yaml.Node) string {
	if v.Kind == yaml.ScalarNode {
		return v.Value
	}
	c := *v
	c.Style = yaml.FlowStyle
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	if err := enc.Encode(&c); err != nil {
		return "(unrenderable)"
	}
	_ = enc.Close()
	return strings.TrimSpace(b.String())
}

// MergeYAML returns base (a YAML mapping, chaoscheck's generated file)
// with every top-level key of f set to the user's value: a key of both
// takes the user's value in base's place, the user's other keys follow
// in file order. A nil f returns base unchanged.
func MergeYAML(base string, f *File) (string, error) {
	if f == nil || f.yaml == nil || len(f.yaml.root.Content) == 0 {
		return base, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(base), &doc); err != nil {
		return "", fmt.Errorf("serverconf: generated YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return "", fmt.Errorf("serverconf: generated YAML is not a mapping")
	}
	root := doc.Content[0]
	index := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		index[root.Content[i].Value] = i
	}
	user := f.yaml.root.Content
	for i := 0; i+1 < len(user); i += 2 {
		k, v := user[i], user[i+1]
		if j, ok := index[k.Value]; ok {
			root.Content[j+1] = v
			continue
		}
		root.Content = append(root.Content, k, v)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", fmt.Errorf("serverconf: encode merged YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("serverconf: encode merged YAML: %w", err)
	}
	return b.String(), nil
}

// YAMLDefaults lists base's top-level keys (a YAML mapping) as defaults
// for Effective, leaving out the keys skip names (node-specific ones).
func YAMLDefaults(base string, skip func(key string) bool) ([]Default, error) {
	d, err := parseYAML(base)
	if err != nil {
		return nil, fmt.Errorf("serverconf: generated YAML:%w", err)
	}
	var out []Default
	for _, s := range d.settings() {
		if skip != nil && skip(s.Name) {
			continue
		}
		out = append(out, Default{Name: s.Name, Value: s.Value})
	}
	return out, nil
}

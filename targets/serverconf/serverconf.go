// Package serverconf reads the user's own server configuration
// (`chaoscheck test --server-config FILE`) and merges it over the
// configuration a target generates. It knows four syntaxes, one per real
// target: a postgresql.conf fragment, redis.conf lines, cassandra.yaml
// overrides and etcd command-line flags.
//
// Invariants:
//   - Parsing never touches a runtime: a File holds the text and its
//     settings, and each merge function returns configuration text or
//     arguments, so the same merge serves every runtime.
//   - Every setting keeps the 1-based line it was written on, and every
//     error names the file and that line.
//   - A setting that chaoscheck must control for the test to mean anything
//     (data directories, addresses, ports, replication wiring) is refused
//     by Check, naming the setting, its line and why, before anything is
//     deployed.
//   - Everything else the user sets wins over chaoscheck's default of the
//     same name.
package serverconf

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/chaoscheck/chaoscheck/rundir"
)

// Format is a configuration syntax.
type Format string

// The formats, one per real target.
const (
	// PostgresConf is a postgresql.conf fragment: `name = value` lines
	// (the = is optional), values bare or single-quoted, # comments.
	PostgresConf Format = "postgresql.conf"
	// RedisConf is redis.conf lines: `directive arg...`, # comments.
	RedisConf Format = "redis.conf"
	// CassandraYAML is a YAML mapping of cassandra.yaml keys.
	CassandraYAML Format = "cassandra.yaml"
	// EtcdFlags is etcd's command-line flags, one a line:
	// `--name=value`, `--name value`, or `--name` (a boolean, true).
	EtcdFlags Format = "etcd flags"
)

// MaxSize bounds the file: server configurations are small, and the text
// is kept verbatim in test.json.
const MaxSize = 1 << 20

// Setting is one setting of the user's file.
type Setting struct {
	// Name is the setting's name as the server matches it: lowercased
	// (postgres, redis), as written (cassandra keys), without the dashes
	// (etcd flags).
	Name string
	// Value is the value as written: quotes and escapes kept (postgres,
	// redis), the YAML text of a scalar or a flow rendering of a
	// collection (cassandra), the flag's argument (etcd).
	Value string
	// Line is the 1-based line of the setting.
	Line int
}

// File is the user's configuration file, parsed.
type File struct {
	// Path is the file as given on the command line.
	Path string
	// Format is its syntax.
	Format Format
	// Text is the file's content, verbatim.
	Text string
	// Settings are its settings, in file order. A name may repeat
	// (redis's save, postgres's last-wins lines).
	Settings []Setting

	yaml *yamlDoc // CassandraYAML only
}

// Load reads path and parses it as format f. The error is one line that
// names the file (and the line, for a syntax error).
func Load(path string, f Format) (*File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--server-config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("--server-config %s: not a regular file", path)
	}
	if fi.Size() > MaxSize {
		return nil, fmt.Errorf("--server-config %s: %d bytes, more than the %d a server configuration needs", path, fi.Size(), MaxSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--server-config: %w", err)
	}
	return Parse(path, string(b), f)
}

// Parse parses text, read from path, as format f.
func Parse(path, text string, f Format) (*File, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("--server-config %s: not UTF-8 text", path)
	}
	file := &File{Path: path, Format: f, Text: text}
	var err error
	switch f {
	case PostgresConf:
		file.Settings, err = parsePostgres(text)
	case RedisConf:
		file.Settings, err = parseRedis(text)
	case CassandraYAML:
		file.yaml, err = parseYAML(text)
		if err == nil {
			file.Settings = file.yaml.settings()
		}
	case EtcdFlags:
		file.Settings, err = parseEtcd(text)
	default:
		return nil, fmt.Errorf("serverconf: unknown format %q", f)
	}
	if err != nil {
		return nil, fmt.Errorf("--server-config %s:%w", path, err)
	}
	return file, nil
}

// lineError is a syntax error at a line; its text starts with the line
// number, so that Parse renders "FILE:LINE: ...".
func lineError(line int, format string, args ...any) error {
	return fmt.Errorf("%d: %s", line, fmt.Sprintf(format, args...))
}

// Rule is a setting that chaoscheck controls.
type Rule struct {
	// Name is the setting's name (as Setting.Name).
	Name string
	// Prefix makes the rule match every name that starts with Name.
	Prefix bool
	// Why says what chaoscheck does with it, e.g. "each node's data
	// directory".
	Why string
	// Allow, when set, accepts the values it returns true for (the rule
	// then refuses only the others); nil refuses every value.
	Allow func(value string) bool
	// Allowed describes the accepted values, for the error ("replica or
	// logical").
	Allowed string
}

func (r Rule) matches(name string) bool {
	if r.Prefix {
		return strings.HasPrefix(name, r.Name)
	}
	return name == r.Name
}

// Check refuses the first setting of f (in file order) that a rule
// controls, with a one-line error naming the file, the line, the
// setting and why chaoscheck controls it. A nil File passes.
func (f *File) Check(rules []Rule) error {
	if f == nil {
		return nil
	}
	for _, s := range f.Settings {
		for _, r := range rules {
			if !r.matches(s.Name) {
				continue
			}
			if r.Allow != nil && r.Allow(s.Value) {
				continue
			}
			if r.Allow != nil {
				return fmt.Errorf("--server-config %s:%d: %s = %s: chaoscheck needs %s here (%s)", f.Path, s.Line, s.Name, s.Value, r.Allowed, r.Why)
			}
			return fmt.Errorf("--server-config %s:%d: %s is set by chaoscheck (%s): remove it from the file", f.Path, s.Line, s.Name, r.Why)
		}
	}
	return nil
}

// Last returns the value of the last setting named name, and whether
// there is one.
func (f *File) Last(name string) (Setting, bool) {
	if f == nil {
		return Setting{}, false
	}
	for i := len(f.Settings) - 1; i >= 0; i-- {
		if f.Settings[i].Name == name {
			return f.Settings[i], true
		}
	}
	return Setting{}, false
}

// Record is what test.json keeps of f: the text verbatim and the
// effective settings (see rundir.ServerConfig). A nil File gives nil.
func (f *File) Record(effective []rundir.ConfigSetting) *rundir.ServerConfig {
	if f == nil {
		return nil
	}
	return &rundir.ServerConfig{File: f.Path, Format: string(f.Format), Text: f.Text, Effective: effective}
}

// Default is one of chaoscheck's own settings, before the merge.
type Default struct {
	Name, Value string
}

// Effective lists the settings in force after the merge: chaoscheck's
// defaults in their order, each replaced by the user's last setting of
// the same name, then the user's other settings in file order (the last
// of each name). In redis.conf a repeated directive may add up (save,
// rename-command...) rather than the last winning: its values are listed
// joined by " | ", at the line of the last. Node-specific settings
// (addresses, directories) are not among defaults: they are
// chaoscheck's and the same on every run.
func Effective(defaults []Default, f *File) []rundir.ConfigSetting {
	var out []rundir.ConfigSetting
	user := map[string]Setting{}
	var order []string
	if f != nil {
		for _, s := range f.Settings {
			prev, ok := user[s.Name]
			if !ok {
				order = append(order, s.Name)
			} else if f.Format == RedisConf {
				s.Value = prev.Value + " | " + s.Value
			}
			user[s.Name] = s
		}
	}
	done := map[string]bool{}
	for _, d := range defaults {
		if done[d.Name] {
			continue
		}
		done[d.Name] = true
		if s, ok := user[d.Name]; ok {
			out = append(out, rundir.ConfigSetting{Name: d.Name, Value: s.Value, Source: rundir.FromUser, Line: s.Line, Default: d.Value})
			continue
		}
		out = append(out, rundir.ConfigSetting{Name: d.Name, Value: d.Value, Source: rundir.FromChaoscheck})
	}
	for _, name := range order {
		if done[name] {
			continue
		}
		s := user[name]
		out = append(out, rundir.ConfigSetting{Name: name, Value: s.Value, Source: rundir.FromUser, Line: s.Line})
	}
	return out
}

// Merge returns the settings to write: chaoscheck's defaults in order,
// where a name the user sets is replaced, in place, by every setting of
// that name in the file (in file order, so that a server taking the last
// of repeated lines takes the user's last); then the user's other
// settings in file order. With a nil f it returns defaults.
func Merge(defaults []Default, f *File) []Default {
	if f == nil {
		return defaults
	}
	byName := map[string][]Setting{}
	for _, s := range f.Settings {
		byName[s.Name] = append(byName[s.Name], s)
	}
	var out []Default
	used := map[string]bool{}
	for _, d := range defaults {
		us, ok := byName[d.Name]
		if !ok {
			out = append(out, d)
			continue
		}
		if used[d.Name] {
			continue
		}
		used[d.Name] = true
		for _, s := range us {
			out = append(out, Default{Name: s.Name, Value: s.Value})
		}
	}
	for _, s := range f.Settings {
		if !used[s.Name] {
			out = append(out, Default{Name: s.Name, Value: s.Value})
		}
	}
	return out
}

// Summary describes f for a target's settings: the file and how many
// settings it merged, or that there is none.
func (f *File) Summary() string {
	if f == nil {
		return "chaoscheck's defaults (no --server-config)"
	}
	return fmt.Sprintf("%s (%s): %d settings merged over chaoscheck's, yours winning (test.json and the report show the file and the effective settings)", f.Path, f.Format, len(f.Settings))
}

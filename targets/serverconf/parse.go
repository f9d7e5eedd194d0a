package serverconf

import (
	"strings"
)

// parsePostgres parses postgresql.conf lines as the server does
// (guc-file.l): `name [=] value [# comment]`, a name of letters, digits,
// '_', '$' and '.', a value either bare (no spaces, quotes or '#') or
// single-quoted with ” or \' for a quote. include directives are
// refused: every setting must be in this file, to be checked and
// recorded.
func parsePostgres(text string) ([]Setting, error) {
	var out []Setting
	for i, raw := range strings.Split(text, "\n") {
		line := i + 1
		s := strings.TrimRight(raw, "\r")
		p := &scanner{s: s}
		p.space()
		if p.done() || p.peek() == '#' {
			continue
		}
		name := p.while(func(c byte) bool {
			return c == '_' || c == '$' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		})
		if name == "" || name[0] >= '0' && name[0] <= '9' {
			return nil, lineError(line, "expected a setting name, got %q", strings.TrimSpace(s))
		}
		name = strings.ToLower(name)
		p.space()
		if !p.done() && p.peek() == '=' {
			p.i++
			p.space()
		}
		if p.done() || p.peek() == '#' {
			return nil, lineError(line, "%s has no value", name)
		}
		var value string
		if p.peek() == '\'' {
			start := p.i
			p.i++
			closed := false
			for !p.done() {
				c := p.s[p.i]
				switch {
				case c == '\\' && p.i+1 < len(p.s):
					p.i += 2
				case c == '\'' && p.i+1 < len(p.s) && p.s[p.i+1] == '\'':
					p.i += 2
				case c == '\'':
					p.i++
					closed = true
				default:
					p.i++
				}
				if closed {
					break
				}
			}
			if !closed {
				return nil, lineError(line, "%s: unterminated quoted value", name)
			}
			value = p.s[start:p.i]
		} else {
			value = p.while(func(c byte) bool { return c != ' ' && c != '\t' && c != '#' && c != '\'' })
		}
		p.space()
		if !p.done() && p.peek() != '#' {
			return nil, lineError(line, "%s: unexpected %q after the value (quote a value with spaces: '...')", name, p.s[p.i:])
		}
		if name == "include" || name == "include_if_exists" || name == "include_dir" {
			return nil, lineError(line, "%s is not supported: put the settings in this file, so that chaoscheck can check and record them", name)
		}
		out = append(out, Setting{Name: name, Value: value, Line: line})
	}
	return out, nil
}

// parseRedis parses redis.conf lines as the server does: a directive
// and its arguments split on spaces, with "..." (backslash escapes) and
// '...' quoting, # starting a comment line. include is refused, as for
// postgres.
func parseRedis(text string) ([]Setting, error) {
	var out []Setting
	for i, raw := range strings.Split(text, "\n") {
		line := i + 1
		s := strings.TrimSpace(strings.TrimRight(raw, "\r"))
		if s == "" || s[0] == '#' {
			continue
		}
		args, err := splitRedisArgs(s)
		if err != nil {
			return nil, lineError(line, "%v", err)
		}
		name := strings.ToLower(args[0])
		if len(args) < 2 {
			return nil, lineError(line, "%s has no value", name)
		}
		if name == "include" {
			return nil, lineError(line, "include is not supported: put the settings in this file, so that chaoscheck can check and record them")
		}
		// The value as written: the line after the directive.
		value := strings.TrimSpace(s[len(args[0]):])
		out = append(out, Setting{Name: name, Value: value, Line: line})
	}
	return out, nil
}

// splitRedisArgs splits a redis.conf line like sdssplitargs.
func splitRedisArgs(s string) ([]string, error) {
	var args []string
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return args, nil
		}
		var b strings.Builder
		switch s[i] {
		case '"':
			i++
			for {
				if i >= len(s) {
					return nil, errUnbalanced
				}
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '"' {
					break
				}
				b.WriteByte(c)
			}
		case '\'':
			i++
			for {
				if i >= len(s) {
					return nil, errUnbalanced
				}
				c := s[i]
				if c == '\\' && i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				i++
				if c == '\'' {
					break
				}
				b.WriteByte(c)
			}
		default:
			for i < len(s) && s[i] != ' ' && s[i] != '\t' {
				b.WriteByte(s[i])
				i++
			}
			args = append(args, b.String())
			continue
		}
		if i < len(s) && s[i] != ' ' && s[i] != '\t' {
			return nil, errQuoteFollowed
		}
		args = append(args, b.String())
	}
}

type parseError string

func (e parseError) Error() string { return string(e) }

const (
	errUnbalanced    = parseError("unbalanced quotes")
	errQuoteFollowed = parseError("a closing quote must be followed by a space")
)

// parseEtcd parses etcd flags, one a line: `--name=value`, `--name
// value` or `--name` (true). A single leading dash is accepted too, as
// etcd's flag package does.
func parseEtcd(text string) ([]Setting, error) {
	var out []Setting
	for i, raw := range strings.Split(text, "\n") {
		line := i + 1
		s := strings.TrimSpace(strings.TrimRight(raw, "\r"))
		if s == "" || s[0] == '#' {
			continue
		}
		if !strings.HasPrefix(s, "-") {
			return nil, lineError(line, "expected a flag (--name=value), got %q", s)
		}
		flag := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "-")
		var name, value string
		if j := strings.IndexAny(flag, "= \t"); j >= 0 {
			name, value = flag[:j], strings.TrimSpace(flag[j+1:])
			if flag[j] == '=' && value == "" {
				return nil, lineError(line, "--%s= has no value", name)
			}
		} else {
			name, value = flag, "true"
		}
		if name == "" || strings.ContainsAny(name, " \t") {
			return nil, lineError(line, "expected a flag name after the dashes, got %q", s)
		}
		if strings.ContainsAny(value, " \t") && !(strings.HasPrefix(value, `"`) || strings.HasPrefix(value, `'`)) {
			return nil, lineError(line, "--%s: one flag a line (the value %q has spaces)", name, value)
		}
		value = unquoteFlag(value)
		out = append(out, Setting{Name: strings.ToLower(name), Value: value, Line: line})
	}
	return out, nil
}

// unquoteFlag removes one pair of surrounding quotes, as a shell would.
func unquoteFlag(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}

// scanner walks one line.
type scanner struct {
	s string
	i int
}

func (p *scanner) done() bool { return p.i >= len(p.s) }
func (p *scanner) peek() byte { return p.s[p.i] }
func (p *scanner) space() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}
func (p *scanner) while(ok func(byte) bool) string {
	start := p.i
	for !p.done() && ok(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

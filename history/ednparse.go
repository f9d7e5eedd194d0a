package history

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is a small reader and printer for EDN, the subset Jepsen
// histories and logs use. It never panics and always terminates: every
// loop consumes input, and nesting is bounded by maxEDNDepth.

// ednKind is the form of an EDN node.
type ednKind uint8

const (
	ednNil ednKind = iota
	ednBool
	ednInt
	ednFloat // kept as its text: histories have no use for fractions
	ednString
	ednChar
	ednKeyword // s is the name, without the colon
	ednSymbol
	ednVector
	ednList
	ednSet
	ednMap    // items are key, value, key, value...
	ednTagged // s is the tag, items[0] the form
)

var ednKindNames = [...]string{
	ednNil: "nil", ednBool: "boolean", ednInt: "integer", ednFloat: "float",
	ednString: "string", ednChar: "character", ednKeyword: "keyword",
	ednSymbol: "symbol", ednVector: "vector", ednList: "list", ednSet: "set",
	ednMap: "map", ednTagged: "tagged literal",
}

func (k ednKind) String() string {
	if int(k) < len(ednKindNames) {
		return ednKindNames[k]
	}
	return "unknown"
}

// withArticle returns the name of k after "a" or "an".
func (k ednKind) withArticle() string {
	switch k {
	case ednInt:
		return "an integer"
	case ednNil:
		return "nil"
	}
	return "a " + k.String()
}

// ednNode is one parsed EDN form.
type ednNode struct {
	kind  ednKind
	line  int // line of the first character, from 1
	b     bool
	i     int64
	r     rune
	s     string
	items []ednNode
}

// maxEDNDepth bounds the nesting of collections, tags and discards.
const maxEDNDepth = 64

// ednError is a syntax error at a line. eof marks input that ended inside
// a form.
type ednError struct {
	line int
	msg  string
	eof  bool
}

func (e *ednError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// ednParser reads EDN forms from a bufio.Reader, counting lines.
type ednParser struct {
	r        *bufio.Reader
	line     int  // current line, from 1
	lastNL   bool // the last byte consumed was a newline
	consumed bool // at least one byte was consumed
	offset   int  // bytes consumed
	// col is how many bytes of the current line were consumed: past
	// maxLineBytes, the parser fails with errLineTooLong, so that input
	// without newlines (/dev/zero) cannot grow a form without bound.
	col int
	err error
	// stack holds the items of the collections being read (see coll).
	stack []ednNode
}

// errLineTooLong is the read error of a line longer than maxLineBytes.
var errLineTooLong = fmt.Errorf("longer than %d bytes (the bound of one line of history)", maxLineBytes)

// tooLong reports whether consuming next would make the current line
// longer than maxLineBytes, and records errLineTooLong if so.
func (p *ednParser) tooLong(next byte) bool {
	if p.col < maxLineBytes || next == '\n' {
		return false
	}
	if p.err == nil {
		p.err = errLineTooLong
	}
	return true
}

func newEDNParser(r *bufio.Reader) *ednParser {
	return &ednParser{r: r, line: 1}
}

func (p *ednParser) errorf(format string, args ...any) error {
	return &ednError{line: p.line, msg: fmt.Sprintf(format, args...)}
}

// tokenErrorf is the error of a token that just ended. When the input
// ends right after it, the token may be a cut one (":" of a keyword, "1e"
// of "1e3"), so the error is marked as input ending inside a form.
func (p *ednParser) tokenErrorf(format string, args ...any) error {
	_, more := p.peek()
	return &ednError{line: p.line, msg: fmt.Sprintf(format, args...), eof: !more && p.err == nil}
}

func (p *ednParser) eofError(what string, start int) error {
	return &ednError{line: p.line, msg: fmt.Sprintf("input ends inside %s started at line %d", what, start), eof: true}
}

// peek returns the next byte without consuming it, or ok=false at the end
// of input (or on a read error, kept in p.err).
func (p *ednParser) peek() (byte, bool) {
	b, err := p.r.Peek(1)
	if err != nil {
		if !errors.Is(err, io.EOF) && p.err == nil {
			p.err = err
		}
		return 0, false
	}
	if p.tooLong(b[0]) {
		return 0, false
	}
	return b[0], true
}

// peek2 returns the byte after the next one, if any.
func (p *ednParser) peek2() (byte, bool) {
	b, err := p.r.Peek(2)
	if err != nil || len(b) < 2 {
		return 0, false
	}
	return b[1], true
}

// read consumes one byte.
func (p *ednParser) read() (byte, bool) {
	if p.col >= maxLineBytes {
		if _, ok := p.peek(); !ok {
			return 0, false
		}
	}
	c, err := p.r.ReadByte()
	if err != nil {
		if !errors.Is(err, io.EOF) && p.err == nil {
			p.err = err
		}
		return 0, false
	}
	p.consumed = true
	p.offset++
	p.col++
	p.lastNL = c == '\n'
	if c == '\n' {
		p.line++
		p.col = 0
	}
	return c, true
}

// ioErr turns a read failure into an error, or returns nil.
func (p *ednParser) ioErr() error {
	if p.err != nil {
		return fmt.Errorf("line %d: %w", p.line, p.err)
	}
	return nil
}

func isEDNSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', ',':
		return true
	}
	return false
}

// isEDNDelim reports whether c ends a token.
func isEDNDelim(c byte) bool {
	switch c {
	case '(', ')', '[', ']', '{', '}', '"', ';':
		return true
	}
	return isEDNSpace(c)
}

// skip consumes whitespace, commas, comments and discarded forms (#_).
// It returns the next byte without consuming it, or ok=false at the end of
// input.
func (p *ednParser) skip(depth int) (c byte, ok bool, err error) {
	for {
		c, ok = p.peek()
		if !ok {
			return 0, false, p.ioErr()
		}
		switch {
		case isEDNSpace(c):
			p.read()
		case c == ';':
			for {
				c, ok := p.read()
				if !ok || c == '\n' {
					break
				}
			}
		case c == '#':
			if c2, ok := p.peek2(); !ok || c2 != '_' {
				return '#', true, nil
			}
			start := p.line
			p.read()
			p.read()
			if depth+1 > maxEDNDepth {
				return 0, false, p.errorf("forms nested deeper than %d", maxEDNDepth)
			}
			c, ok, err := p.skip(depth + 1)
			if err != nil {
				return 0, false, err
			}
			if !ok {
				return 0, false, p.eofError("a discarded form (#_)", start)
			}
			if isCloser(c) {
				return 0, false, p.errorf("#_ discards nothing before %q", c)
			}
			if _, err := p.form(depth + 1); err != nil {
				return 0, false, err
			}
		default:
			return c, true, nil
		}
	}
}

func isCloser(c byte) bool { return c == ')' || c == ']' || c == '}' }

// form reads one form. The caller has called skip and seen a byte that is
// not a closing delimiter.
func (p *ednParser) form(depth int) (ednNode, error) {
	n, err := p.formBody(depth)
	if err == nil && p.err != nil {
		// A token cut by a read error or by the line bound.
		return ednNode{}, p.ioErr()
	}
	return n, err
}

// formBody reads one form, for form.
func (p *ednParser) formBody(depth int) (ednNode, error) {
	if depth > maxEDNDepth {
		return ednNode{}, p.errorf("forms nested deeper than %d", maxEDNDepth)
	}
	line := p.line
	c, ok := p.read()
	if !ok {
		if err := p.ioErr(); err != nil {
			return ednNode{}, err
		}
		return ednNode{}, p.eofError("a form", line)
	}
	switch c {
	case '[':
		items, err := p.coll(']', "vector", line, depth)
		return ednNode{kind: ednVector, line: line, items: items}, err
	case '(':
		items, err := p.coll(')', "list", line, depth)
		return ednNode{kind: ednList, line: line, items: items}, err
	case '{':
		items, err := p.coll('}', "map", line, depth)
		if err == nil && len(items)%2 != 0 {
			err = &ednError{line: line, msg: "map has a key without a value"}
		}
		return ednNode{kind: ednMap, line: line, items: items}, err
	case '"':
		s, err := p.str(line)
		return ednNode{kind: ednString, line: line, s: s}, err
	case '#':
		return p.dispatch(line, depth)
	case '\\':
		return p.char(line)
	case ')', ']', '}':
		return ednNode{}, p.errorf("unexpected %q", c)
	case '\'', '`', '~', '@', '^':
		return ednNode{}, p.errorf("unsupported reader macro %q", c)
	case ':':
		tok := p.token()
		if tok == "" {
			return ednNode{}, p.tokenErrorf("keyword without a name")
		}
		return ednNode{kind: ednKeyword, line: line, s: tok}, nil
	}
	tok := string(c) + p.token()
	return p.atom(tok, line)
}

// coll reads the items of a collection up to its closing delimiter.
func (p *ednParser) coll(closer byte, what string, start, depth int) ([]ednNode, error) {
	// The items of every open collection are on p.stack, this one's from
	// base; each collection copies its own out, at its exact size, when it
	// closes. Growing one shared stack instead of a slice per collection
	// is most of the speed of reading a history.
	base := len(p.stack)
	defer func() {
		clear(p.stack[base:])
		p.stack = p.stack[:base]
	}()
	for {
		c, ok, err := p.skip(depth + 1)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, p.eofError("a "+what, start)
		}
		if isCloser(c) {
			p.read()
			if c != closer {
				return nil, p.errorf("%q closes a %s opened with %q at line %d", c, what, opener(closer), start)
			}
			return slices.Clone(p.stack[base:]), nil
		}
		n, err := p.form(depth + 1)
		if err != nil {
			return nil, err
		}
		p.stack = append(p.stack, n)
	}
}

func opener(closer byte) byte {
	switch closer {
	case ']':
		return '['
	case ')':
		return '('
	}
	return '{'
}

// token consumes bytes up to the next delimiter.
func (p *ednParser) token() string {
	var b strings.Builder
	for {
		c, ok := p.peek()
		if !ok || isEDNDelim(c) {
			return b.String()
		}
		// Take the run of token bytes already buffered at once, within the
		// line bound. Delimiters include the newline, so p.line and
		// p.lastNL do not change.
		buf, _ := p.r.Peek(min(p.r.Buffered(), maxLineBytes-p.col))
		n := 0
		for n < len(buf) && !isEDNDelim(buf[n]) {
			n++
		}
		b.Write(buf[:n])
		p.r.Discard(n)
		p.offset += n
		p.col += n
		p.consumed = true
		p.lastNL = false
	}
}

// atom interprets a token that starts neither a keyword nor a string.
func (p *ednParser) atom(tok string, line int) (ednNode, error) {
	switch tok {
	case "nil":
		return ednNode{kind: ednNil, line: line}, nil
	case "true", "false":
		return ednNode{kind: ednBool, line: line, b: tok == "true"}, nil
	}
	c := tok[0]
	if c >= '0' && c <= '9' || (c == '+' || c == '-') && len(tok) > 1 && tok[1] >= '0' && tok[1] <= '9' {
		return p.number(tok, line)
	}
	return ednNode{kind: ednSymbol, line: line, s: tok}, nil
}

// number parses an integer (optionally with the bigint suffix N) or a
// float (kept as text).
func (p *ednParser) number(tok string, line int) (ednNode, error) {
	digits := strings.TrimSuffix(tok, "N")
	if i, err := strconv.ParseInt(digits, 10, 64); err == nil {
		if hasLeadingZero(digits) {
			return ednNode{}, p.errorf("unsupported octal integer %s", Clip(tok))
		}
		return ednNode{kind: ednInt, line: line, i: i}, nil
	} else if errors.Is(err, strconv.ErrRange) {
		return ednNode{}, p.errorf("integer %s does not fit in 64 bits", Clip(tok))
	}
	f := strings.TrimSuffix(tok, "M")
	if strings.ContainsAny(f, ".eE") && !strings.ContainsAny(f, "xX_pP") {
		if _, err := strconv.ParseFloat(f, 64); err == nil || errors.Is(err, strconv.ErrRange) {
			return ednNode{kind: ednFloat, line: line, s: tok}, nil
		}
	}
	return ednNode{}, p.tokenErrorf("unsupported number %s", Quote(tok))
}

// hasLeadingZero reports an integer like 017, which Clojure reads as octal.
func hasLeadingZero(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return len(s) > 1 && s[0] == '0'
}

// str reads a string after its opening quote.
func (p *ednParser) str(start int) (string, error) {
	var b strings.Builder
	for {
		c, ok := p.read()
		if !ok {
			if err := p.ioErr(); err != nil {
				return "", err
			}
			return "", p.eofError("a string", start)
		}
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			e, ok := p.read()
			if !ok {
				if err := p.ioErr(); err != nil {
					return "", err
				}
				return "", p.eofError("a string", start)
			}
			switch e {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '"', '\\':
				b.WriteByte(e)
			case 'u':
				var hex [4]byte
				for n := range hex {
					h, ok := p.read()
					if !ok {
						if err := p.ioErr(); err != nil {
							return "", err
						}
						return "", p.eofError("a string", start)
					}
					hex[n] = h
				}
				r, err := strconv.ParseUint(string(hex[:]), 16, 16)
				if err != nil {
					return "", p.errorf("bad escape \\u%s in string", hex[:])
				}
				b.WriteRune(rune(r))
			default:
				return "", p.errorf("unsupported escape \\%c in string", e)
			}
		default:
			b.WriteByte(c)
		}
	}
}

// namedChars are the character literals with names.
var namedChars = map[string]rune{
	"newline": '\n', "space": ' ', "tab": '\t', "return": '\r',
	"formfeed": '\f', "backspace": '\b',
}

// char reads a character literal after its backslash.
func (p *ednParser) char(line int) (ednNode, error) {
	c, ok := p.read()
	if !ok {
		if err := p.ioErr(); err != nil {
			return ednNode{}, err
		}
		return ednNode{}, p.eofError("a character", line)
	}
	tok := string(c) + p.token()
	if r, ok := namedChars[tok]; ok {
		return ednNode{kind: ednChar, line: line, r: r}, nil
	}
	if len(tok) == 5 && tok[0] == 'u' {
		if r, err := strconv.ParseUint(tok[1:], 16, 16); err == nil {
			return ednNode{kind: ednChar, line: line, r: rune(r)}, nil
		}
	}
	r, size := utf8.DecodeRuneInString(tok)
	if size != len(tok) || r == utf8.RuneError {
		return ednNode{}, p.tokenErrorf("unsupported character literal \\%s", Clip(tok))
	}
	return ednNode{kind: ednChar, line: line, r: r}, nil
}

// dispatch reads what follows '#': a set, a symbolic value or a tagged
// literal (including record literals such as #jepsen.history.Op{...}).
func (p *ednParser) dispatch(line, depth int) (ednNode, error) {
	c, ok := p.peek()
	if !ok {
		if err := p.ioErr(); err != nil {
			return ednNode{}, err
		}
		return ednNode{}, p.eofError("a # form", line)
	}
	switch {
	case c == '{':
		p.read()
		items, err := p.coll('}', "set", line, depth)
		return ednNode{kind: ednSet, line: line, items: items}, err
	case c == '#':
		p.read()
		tok := p.token()
		switch tok {
		case "Inf", "-Inf", "NaN":
			return ednNode{kind: ednFloat, line: line, s: "##" + tok}, nil
		}
		return ednNode{}, p.tokenErrorf("unsupported symbolic value ##%s", Clip(tok))
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		tag := p.token()
		c, ok, err := p.skip(depth + 1)
		if err != nil {
			return ednNode{}, err
		}
		if !ok {
			return ednNode{}, p.eofError("the tagged literal #"+Clip(tag), line)
		}
		if isCloser(c) {
			return ednNode{}, p.errorf("tag #%s has no form", Clip(tag))
		}
		n, err := p.form(depth + 1)
		if err != nil {
			return ednNode{}, err
		}
		return ednNode{kind: ednTagged, line: line, s: tag, items: []ednNode{n}}, nil
	}
	return ednNode{}, p.errorf("unsupported dispatch #%c", c)
}

// parseEDNForm parses s as exactly one EDN form, as if nested depth
// levels deep.
func parseEDNForm(s string, depth int) (ednNode, error) {
	p := newEDNParser(bufio.NewReaderSize(strings.NewReader(s), 16))
	return p.single(depth)
}

// first parses the first form of the rest of the input, as if nested
// depth levels deep, and consumes nothing after it.
func (p *ednParser) first(depth int) (ednNode, error) {
	c, ok, err := p.skip(depth)
	if err != nil {
		return ednNode{}, err
	}
	if !ok {
		return ednNode{}, p.errorf("no value")
	}
	if isCloser(c) {
		return ednNode{}, p.errorf("unexpected %q", c)
	}
	return p.form(depth)
}

// single parses the rest of the input as exactly one form, as if nested
// depth levels deep.
func (p *ednParser) single(depth int) (ednNode, error) {
	n, err := p.first(depth)
	if err != nil {
		return ednNode{}, err
	}
	if _, ok, err := p.skip(depth); err != nil {
		return ednNode{}, err
	} else if ok {
		return ednNode{}, p.errorf("more than one value")
	}
	return n, nil
}

// String prints n as canonical EDN: parsing the result gives back n.
func (n ednNode) String() string {
	var b strings.Builder
	n.print(&b)
	return b.String()
}

func (n ednNode) print(b *strings.Builder) {
	switch n.kind {
	case ednNil:
		b.WriteString("nil")
	case ednBool:
		b.WriteString(strconv.FormatBool(n.b))
	case ednInt:
		b.WriteString(strconv.FormatInt(n.i, 10))
	case ednFloat, ednSymbol:
		b.WriteString(n.s)
	case ednString:
		writeEDNString(b, n.s)
	case ednChar:
		writeEDNChar(b, n.r)
	case ednKeyword:
		b.WriteByte(':')
		b.WriteString(n.s)
	case ednVector:
		printItems(b, "[", "]", " ", n.items)
	case ednList:
		printItems(b, "(", ")", " ", n.items)
	case ednSet:
		printItems(b, "#{", "}", " ", n.items)
	case ednMap:
		b.WriteByte('{')
		for k := 0; k+1 < len(n.items); k += 2 {
			if k > 0 {
				b.WriteString(", ")
			}
			n.items[k].print(b)
			b.WriteByte(' ')
			n.items[k+1].print(b)
		}
		b.WriteByte('}')
	case ednTagged:
		b.WriteByte('#')
		b.WriteString(n.s)
		b.WriteByte(' ')
		if len(n.items) == 1 {
			n.items[0].print(b)
		}
	}
}

func printItems(b *strings.Builder, open, closer, sep string, items []ednNode) {
	b.WriteString(open)
	for k := range items {
		if k > 0 {
			b.WriteString(sep)
		}
		items[k].print(b)
	}
	b.WriteString(closer)
}

// writeEDNString writes s as an EDN string literal. Bytes that are not
// valid UTF-8 are written as they are, which the reader keeps as they are.
func writeEDNString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// writeEDNChar writes r as a character literal.
func writeEDNChar(b *strings.Builder, r rune) {
	for name, nr := range namedChars {
		if nr == r {
			b.WriteByte('\\')
			b.WriteString(name)
			return
		}
	}
	if r < 0x20 || r == 0x7f || r > 0xffff && !utf8.ValidRune(r) || r >= 0xd800 && r <= 0xdfff {
		fmt.Fprintf(b, `\u%04x`, r)
		return
	}
	if r <= 0xffff && (r < 0x21 || r > 0x7e) {
		// Spaces and other invisible BMP characters read better escaped.
		fmt.Fprintf(b, `\u%04x`, r)
		return
	}
	b.WriteByte('\\')
	b.WriteRune(r)
}

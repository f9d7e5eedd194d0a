package history

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ReadJepsenLog reads the client events of a Jepsen console log, such as
// the etcd logs of the Porcupine test data:
//
//	INFO  jepsen.util - 3	:invoke	:read	nil
//	INFO  jepsen.util - 3	:ok	:read	4
//	INFO  jepsen.util - 1	:info	:write	:timed-out
//	INFO  jepsen.util - :nemesis	:info	:start	nil
//
// An event line is a process (an integer, or :nemesis), a type (:invoke,
// :ok, :fail or :info), a function and a value, separated by tabs or runs
// of spaces, either after the logger prefix "jepsen.util - " (or
// "jepsen.util: ") or at the start of the line. Every other line (setup,
// other loggers, stack traces) is skipped.
//
// Values are EDN (see ReadEDN): nil, integers, strings, keywords (read as
// their name) and vectors, so a CAS [1 4] is Ints(1, 4). An :info or :fail
// completion whose value is a keyword (:timed-out) carries its
// invocation's value, with the keyword's name in Error. A nemesis value
// that is not such a value is kept as a string of its text.
//
// The logs have no usable times: each event's Time is its position, which
// keeps the order. Keys are "" (a single register). A last line without a
// newline that fails to parse is dropped and reported in ReadInfo; any
// other bad event line is an error naming its line. The history must pass
// Validate.
func ReadJepsenLog(r io.Reader) (*History, ReadInfo, error) {
	var info ReadInfo
	lr := newLineReader(r)
	im := newImporter()
	vr := bufio.NewReaderSize(strings.NewReader(""), 16)
	for {
		line, terminated, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, info, err
		}
		info.Lines = lr.n
		op, value, ok, err := parseJepsenLine(string(line))
		if err == nil && ok {
			err = parseLogValue(im, &op, value, vr)
		}
		if err != nil {
			if !terminated {
				info.Truncated = true
				info.TruncatedLine = lr.n
				break
			}
			return nil, info, fmt.Errorf("history: jepsen log line %d: %w", lr.n, err)
		}
		if ok {
			im.add(op, false)
		}
	}
	h := im.finish()
	if err := h.Validate(); err != nil {
		return nil, info, fmt.Errorf("history: invalid jepsen log history: %w", err)
	}
	return h, info, nil
}

// parseLogValue parses the value text of an event into op.
func parseLogValue(im *importer, op *Op, text string, vr *bufio.Reader) error {
	if text == "" {
		return im.setValue(op, nil)
	}
	vr.Reset(strings.NewReader(text))
	n, err := newEDNParser(vr).single(0)
	if err != nil {
		if !op.IsClient() {
			op.Value = Str(text)
			return nil
		}
		return fmt.Errorf("value %q: %w", text, err)
	}
	if err := im.setValue(op, &n); err != nil {
		return fmt.Errorf("value %s: %w", text, err)
	}
	return nil
}

// logPrefixes introduce the event in a console log line.
var logPrefixes = []string{"jepsen.util - ", "jepsen.util: "}

// parseJepsenLine splits an event line into an op without a value, and the
// value's text. ok is false for lines that are not events.
func parseJepsenLine(line string) (op Op, value string, ok bool, err error) {
	line = strings.TrimRight(line, "\r\n")
	for _, p := range logPrefixes {
		if i := strings.Index(line, p); i >= 0 {
			line = line[i+len(p):]
			break
		}
	}
	proc, rest := nextField(line)
	typ, rest := nextField(rest)
	f, rest := nextField(rest)
	switch typ {
	case ":invoke", ":ok", ":fail", ":info":
	default:
		return Op{}, "", false, nil
	}
	switch {
	case proc == ":nemesis":
		op.Process = Nemesis
	case proc != "" && strings.Trim(proc, "0123456789") == "":
		n, err := strconv.ParseInt(proc, 10, 32)
		if err != nil {
			return Op{}, "", false, fmt.Errorf("process %s is not a 32-bit integer", proc)
		}
		op.Process = Process(n)
	default:
		return Op{}, "", false, nil
	}
	op.Type, _ = ParseType(typ[1:])
	op.F = strings.TrimPrefix(f, ":")
	if op.F == "" {
		return Op{}, "", false, fmt.Errorf("event has no function")
	}
	return op, strings.Trim(rest, " \t"), true, nil
}

// nextField returns the first field of s separated by tabs or spaces, and
// the rest after it.
func nextField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t")
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

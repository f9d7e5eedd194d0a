package history

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ReadJepsenLog reads the client events of a Jepsen (or Maelstrom)
// console log, such as the etcd logs of the Porcupine test data, the
// output of Jepsen 0.1 and Maelstrom, or bare event lines:
//
//	INFO  jepsen.util - 3	:invoke	:read	nil
//	INFO  jepsen.util - 1	:info	:write	:timed-out
//	INFO  jepsen.util - :nemesis	:info	:start	nil
//	INFO [2017-03-30 23:00:51,065] jepsen worker 0 - jepsen.util 0  :fail :cas  [1 4] :not-found
//	0	:info	:write	3	[:timeout "socket closed"]
//
// An event line is a process (an integer, or :nemesis), a type (:invoke,
// :ok, :fail or :info), a function, a value and, optionally, an error,
// separated by tabs or runs of spaces, either after the logger name
// "jepsen.util" (followed by " - ", ": " or blanks, whatever comes before
// it: level, timestamp, thread) or at the start of the line. Every other
// line (setup, other loggers, stack traces) is skipped.
//
// Values are EDN (see ReadEDN): nil, integers, strings, keywords (read as
// their name) and vectors, so a CAS [1 4] is Ints(1, 4). The error column,
// which current Jepsen prints after the value, goes to Error, rendered as
// ReadEDN renders :error: a keyword as its name (not-found), a string as
// its contents, any other form as its EDN text ([:timeout "socket
// closed"]), and text that is not one EDN form as it is. An :info or :fail
// completion whose value is a keyword (:timed-out, old Jepsen's way of
// writing the error) carries its invocation's value, with the keyword's
// name in Error (or, when there is an error column too, its text in
// Extra["jepsen-value"]). A nemesis value that is not such a value is kept
// as a string of its text.
//
// The logs have no usable times: each event's Time is its position, which
// keeps the order. Keys are "" (a single register). A last line without a
// newline is what a crash in the middle of a write leaves: it is dropped
// and reported in ReadInfo, whether or not it parses. Any other bad event
// line is an error naming its line. The history must pass Validate.
func ReadJepsenLog(r io.Reader) (*History, ReadInfo, error) {
	var info ReadInfo
	lr := newLineReader(r)
	im := newImporter()
	vr := bufio.NewReaderSize(strings.NewReader(""), 16)
	for {
		line, err := lr.next()
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
			return nil, info, fmt.Errorf("history: jepsen log line %d: %w", lr.n, err)
		}
		if ok {
			im.add(op, false, -1)
		}
	}
	lr.report(&info)
	h := im.finish(&info)
	if err := h.Validate(); err != nil {
		return nil, info, fmt.Errorf("history: invalid jepsen log history: %w", err)
	}
	info.noteTimes(h)
	return h, info, nil
}

// parseLogValue parses the value text of an event, and the error column
// after it, into op.
func parseLogValue(im *importer, op *Op, text string, vr *bufio.Reader) error {
	if text == "" {
		return im.setValue(op, nil)
	}
	vr.Reset(strings.NewReader(text))
	p := newEDNParser(vr)
	n, err := p.first(0)
	if err != nil {
		if !op.IsClient() {
			op.Value = Str(text)
			return nil
		}
		return fmt.Errorf("value %s: %w", Quote(text), err)
	}
	if rest := strings.Trim(text[p.offset:], " \t,"); rest != "" {
		if !op.IsClient() {
			// A nemesis value with spaces, such as "partition n1": its text.
			op.Value = Str(text)
			return nil
		}
		op.Error = rest
		if e, err := parseEDNForm(rest, 0); err == nil {
			op.Error = textOf(e)
		}
	}
	if err := im.setValue(op, &n); err != nil {
		return fmt.Errorf("value %s: %w", Clip(text[:p.offset]), err)
	}
	return nil
}

// logger is the name of the Jepsen logger that prints client events.
const logger = "jepsen.util"

// eventText returns what follows the logger name in a console log line
// ("INFO  jepsen.util - 3	:ok	:read	4", "INFO [2017-03-30 ...] jepsen
// worker 0 - jepsen.util 0  :ok :read 4"), and the line itself when it
// does not name the logger.
func eventText(line string) string {
	i := strings.Index(line, logger)
	if i < 0 {
		return line
	}
	rest := line[i+len(logger):]
	switch {
	case strings.HasPrefix(rest, " - "):
		return rest[3:]
	case strings.HasPrefix(rest, ": "):
		return rest[2:]
	case strings.HasPrefix(rest, " "), strings.HasPrefix(rest, "\t"):
		return rest[1:]
	}
	return line
}

// parseJepsenLine splits an event line into an op without a value, and the
// text of the value and error columns. ok is false for lines that are not
// events.
func parseJepsenLine(line string) (op Op, value string, ok bool, err error) {
	line = strings.TrimRight(line, "\r\n")
	if op, value, ok, err := parseEvent(line); ok || err != nil {
		return op, value, ok, err // a bare event line
	}
	return parseEvent(eventText(line))
}

// parseEvent parses an event that starts line, for parseJepsenLine.
func parseEvent(line string) (op Op, value string, ok bool, err error) {
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
			return Op{}, "", false, fmt.Errorf("process %s is not a 32-bit integer", Clip(proc))
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

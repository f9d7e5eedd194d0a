package history

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Format names a history file format.
type Format string

const (
	// FormatAuto detects the format from the content.
	FormatAuto Format = ""
	// FormatJSONL is chaoscheck's own format: one JSON op a line, as
	// Writer writes it.
	FormatJSONL Format = "jsonl"
	// FormatJepsenLog is a Jepsen console log (see ReadJepsenLog).
	FormatJepsenLog Format = "jepsen-log"
	// FormatEDN is a Jepsen history in EDN (see ReadEDN).
	FormatEDN Format = "edn"
)

// String returns the name of f, "auto" for FormatAuto.
func (f Format) String() string {
	if f == FormatAuto {
		return "auto"
	}
	return string(f)
}

// ParseFormat parses a format name: auto (or ""), jsonl, jepsen-log or
// edn.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return FormatAuto, nil
	case "jsonl":
		return FormatJSONL, nil
	case "jepsen-log":
		return FormatJepsenLog, nil
	case "edn":
		return FormatEDN, nil
	}
	return FormatAuto, fmt.Errorf("history: unknown format %q (want auto, jsonl, jepsen-log or edn)", s)
}

// ErrEmptyHistory is returned (wrapped) by Read and Load for input that
// holds no op.
var ErrEmptyHistory = errors.New("empty history")

// ErrUnknownFormat is matched (with errors.Is) by the *FormatError that
// Read and Load return when they cannot detect the format.
var ErrUnknownFormat = errors.New("history: unknown history format")

// FormatError says that the format of a history could not be detected.
type FormatError struct {
	Path      string // the file, or "" for a reader
	FirstLine string // the start of the first non-empty line
}

// Error says which input could not be detected, and how to name its
// format.
func (e *FormatError) Error() string {
	name := e.Path
	if name == "" {
		name = "input"
	}
	return fmt.Sprintf("history: cannot detect history format of %s; name it with --format (first line: %q)", name, e.FirstLine)
}

// Is makes errors.Is(err, ErrUnknownFormat) true.
func (e *FormatError) Is(target error) bool { return target == ErrUnknownFormat }

// detectBytes is how much of the input detection looks at.
const detectBytes = 64 << 10

// DetectFormat detects the format of a history from its first bytes:
//
//   - a first non-blank character '{' followed by '"': jsonl;
//   - '{' followed by ':', or '[', '(', ';' (a comment), or '#' followed
//     by a letter, '{' or '_' (a tagged literal such as #jepsen.history.Op,
//     a set, a discard): edn;
//   - a line containing "jepsen.util - " or "jepsen.util: ", a line of
//     Jepsen's or Maelstrom's logger ("INFO [2017-...] jepsen worker 0 -
//     jepsen.core ..."), or a line that holds an event
//     ("3	:invoke	:read	nil"): jepsen-log.
//
// It returns an error wrapping ErrEmptyHistory for blank input, and a
// *FormatError otherwise.
func DetectFormat(head []byte) (Format, error) {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	t := bytes.TrimLeft(head, " \t\r\n\f\v")
	if len(t) == 0 {
		return FormatAuto, fmt.Errorf("history: %w", ErrEmptyHistory)
	}
	switch t[0] {
	case '{':
		rest := bytes.TrimLeft(t[1:], " \t\r\n\f\v,")
		if len(rest) > 0 && rest[0] == '"' {
			return FormatJSONL, nil
		}
		if len(rest) > 0 && rest[0] == ':' {
			return FormatEDN, nil
		}
	case '[', '(', ';':
		return FormatEDN, nil
	case '#':
		if len(t) > 1 && (t[1] == '{' || t[1] == '_' || t[1] >= 'a' && t[1] <= 'z' || t[1] >= 'A' && t[1] <= 'Z') {
			return FormatEDN, nil
		}
	}
	for rest := t; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		s := string(line)
		if strings.Contains(s, logger+" - ") || strings.Contains(s, logger+": ") || isJepsenLoggerLine(s) {
			return FormatJepsenLog, nil
		}
		if _, _, ok, err := parseJepsenLine(s); ok && err == nil {
			return FormatJepsenLog, nil
		}
	}
	first, _, _ := bytes.Cut(t, []byte("\n"))
	first = bytes.TrimRight(first, " \t\r")
	if len(first) > 80 {
		first = first[:80]
	}
	return FormatAuto, &FormatError{FirstLine: string(first)}
}

// isJepsenLoggerLine reports whether s is a line of Jepsen's (or
// Maelstrom's) console logger, event or not: a level, a bracketed
// timestamp, a thread name and a jepsen or maelstrom logger ("INFO
// [2021-02-23 10:30:50,001] jepsen node n1 - jepsen.control.util ...").
// A log's first events may come after more than detectBytes of setup.
func isJepsenLoggerLine(s string) bool {
	level, rest, ok := strings.Cut(s, " [")
	switch strings.TrimSpace(level) {
	case "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL":
	default:
		return false
	}
	if !ok || len(rest) < 4 || strings.Trim(rest[:4], "0123456789") != "" {
		return false
	}
	return strings.Contains(rest, "] ") && (strings.Contains(rest, " - jepsen.") || strings.Contains(rest, " - maelstrom."))
}

// Read reads a history in format f from r, detecting the format when f is
// FormatAuto. Input without any op is an error wrapping ErrEmptyHistory.
func Read(r io.Reader, f Format) (*History, ReadInfo, error) {
	return read(r, f, 0)
}

// read is Read with the expected number of ops of a JSONL history (0:
// unknown), so that its op slice is allocated once.
func read(r io.Reader, f Format, sizeHint int) (*History, ReadInfo, error) {
	br := bufio.NewReaderSize(r, detectBytes)
	head, err := br.Peek(detectBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, ReadInfo{}, fmt.Errorf("history: read: %w", err)
	}
	if len(bytes.TrimSpace(head)) == 0 && len(head) < detectBytes {
		return nil, ReadInfo{}, fmt.Errorf("history: %w", ErrEmptyHistory)
	}
	if f == FormatAuto {
		if f, err = DetectFormat(head); err != nil {
			if errors.Is(err, ErrEmptyHistory) && len(head) == detectBytes {
				// Only blank space within the first detectBytes.
				return nil, ReadInfo{}, &FormatError{FirstLine: "(more than 64 KiB of blank space)"}
			}
			return nil, ReadInfo{}, err
		}
	}
	var (
		h    *History
		info ReadInfo
	)
	switch f {
	case FormatJSONL:
		h, info, err = readJSONL(br, jsonlOptions{sizeHint: sizeHint})
	case FormatJepsenLog:
		h, info, err = ReadJepsenLog(br)
	case FormatEDN:
		h, info, err = ReadEDN(br)
	default:
		return nil, ReadInfo{}, fmt.Errorf("history: unknown format %q", string(f))
	}
	info.Format = f
	if err != nil {
		return nil, info, err
	}
	if len(h.Ops) == 0 {
		return nil, info, fmt.Errorf("history: no operations in %d lines of %s: %w", info.Lines, f, ErrEmptyHistory)
	}
	return h, info, nil
}

// Load reads the history file at path in format f (FormatAuto: detected
// from the content). A file without any op (an empty file) is an error
// wrapping ErrEmptyHistory; an undetectable format is a *FormatError.
func Load(path string, f Format) (*History, ReadInfo, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, ReadInfo{}, fmt.Errorf("history: %w", err)
	}
	defer file.Close()
	hint := 0
	if f == FormatJSONL || f == FormatAuto {
		hint, _ = countLines(path) // only a hint: 0 when it cannot count
	}
	h, info, err := read(file, f, hint)
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.Path = path
			return nil, info, fe
		}
		if errors.Is(err, ErrEmptyHistory) && info.Lines == 0 {
			return nil, info, fmt.Errorf("history: %s: %w", path, ErrEmptyHistory)
		}
		return nil, info, fmt.Errorf("%s: %w", path, err)
	}
	return h, info, nil
}

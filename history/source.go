package history

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Source is a history read from its start one op at a time, as often as
// needed: an in-memory *History, or a *JSONLFile streamed from disk, so
// that a pass over a history of millions of ops holds none of them. The
// statistics, the measurements and the report read their history through
// a Source; a pass keeps only what it computes (bounded, or a few bytes
// per op where a measure needs it), never the ops.
type Source interface {
	// Scan calls fn with every op in order, and stops at the first error
	// fn returns, returning it. fn must not modify *op, and op itself is
	// only valid during the call (a file reuses it), but a copy of *op
	// stays valid: its strings and lists are never overwritten. Scan
	// also fails, with an error naming the line, on an op that breaks the
	// invariants of the package documentation (as Validate does), after
	// fn has seen the ops before it.
	Scan(fn func(op *Op) error) error
	// Last returns the last op Scan would yield, without reading the
	// others; ok is false when there is none.
	Last() (op Op, ok bool, err error)
}

// Scan calls fn with &h.Ops[i] for every op, in order (see Source). An
// in-memory history is validated by whoever built it, so Scan checks
// nothing.
func (h *History) Scan(fn func(op *Op) error) error {
	for i := range h.Ops {
		if err := fn(&h.Ops[i]); err != nil {
			return err
		}
	}
	return nil
}

// Last returns the last op of h (see Source).
func (h *History) Last() (Op, bool, error) {
	if len(h.Ops) == 0 {
		return Op{}, false, nil
	}
	return h.Ops[len(h.Ops)-1], true, nil
}

// JSONLFile is a JSONL history file (the format of Writer) read as a
// Source: each Scan streams the file with the fast decoder, checking
// every line as ReadJSONL does (index, fields, one op in flight per
// process, no invocation after an info), with memory bounded by the
// processes seen (a few bytes each), not by the ops. A last line
// without its newline (a crash mid-write) is dropped, as ReadJSONL drops
// it, and reported in Info.
type JSONLFile struct {
	path string
	info ReadInfo
}

// OpenJSONL returns the JSONL history file at path as a Source. It
// checks that the file can be opened; its lines are read by Scan.
func OpenJSONL(path string) (*JSONLFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	f.Close()
	return &JSONLFile{path: path}, nil
}

// Path is the file's path.
func (j *JSONLFile) Path() string { return j.path }

// Info is what the last complete Scan went through (lines, a dropped
// unterminated last line, times that go back).
func (j *JSONLFile) Info() ReadInfo { return j.info }

// Scan streams the file's ops to fn (see Source and JSONLFile).
func (j *JSONLFile) Scan(fn func(op *Op) error) error {
	f, err := os.Open(j.path)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	var info ReadInfo
	lr := newLineReader(bufio.NewReaderSize(f, 256<<10))
	d := newDecoder()
	var v streamValidator
	var op Op
	pos := 0
	var high int64
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", j.path, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		err = d.decodeLine(line, &op)
		if err == nil {
			err = checkParsed(&op, pos)
		}
		if err == nil {
			err = v.check(&op)
		}
		if err != nil {
			return fmt.Errorf("%s: history: jsonl line %d: %w", j.path, lr.n, err)
		}
		if pos > 0 && op.Time < high {
			if info.TimeRegressions == 0 {
				info.FirstTimeRegression = pos
			}
			info.TimeRegressions++
			info.MaxTimeRegressionNS = max(info.MaxTimeRegressionNS, high-op.Time)
		}
		if pos == 0 || op.Time > high {
			high = op.Time
		}
		pos++
		if err := fn(&op); err != nil {
			return err
		}
	}
	lr.report(&info)
	info.Format = FormatJSONL
	j.info = info
	return nil
}

// lastChunk is how far back from the end Last reads at a time.
const lastChunk = 64 << 10

// Last decodes the last terminated, non-blank line of the file (see
// Source). It reads backwards from the end, so its cost does not depend on
// the file's length.
func (j *JSONLFile) Last() (Op, bool, error) {
	f, err := os.Open(j.path)
	if err != nil {
		return Op{}, false, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Op{}, false, fmt.Errorf("history: %w", err)
	}
	// tail holds the file from off to end; end is the end of the last
	// terminated line (after its newline).
	end := st.Size()
	off := end
	var tail []byte
	read := func() (bool, error) {
		if off == 0 {
			return false, nil
		}
		n := min(int64(lastChunk), off)
		if int64(len(tail))+n > maxLineBytes+lastChunk {
			return false, fmt.Errorf("history: %s: last line is longer than %d bytes", j.path, maxLineBytes)
		}
		buf := make([]byte, n, n+int64(len(tail)))
		if _, err := f.ReadAt(buf, off-n); err != nil {
			return false, fmt.Errorf("history: %s: %w", j.path, err)
		}
		off -= n
		tail = append(buf, tail...)
		return true, nil
	}
	// Drop what follows the last newline: an unterminated last line.
	for {
		if i := bytes.LastIndexByte(tail, '\n'); i >= 0 {
			tail = tail[:i+1]
			break
		}
		more, err := read()
		if err != nil {
			return Op{}, false, err
		}
		if !more {
			return Op{}, false, nil
		}
	}
	for {
		body := tail[:len(tail)-1] // without the final newline
		i := bytes.LastIndexByte(body, '\n')
		if i >= 0 || off == 0 {
			line := body[i+1:]
			if len(bytes.TrimSpace(line)) > 0 {
				var op Op
				if err := newDecoder().decodeLine(line, &op); err != nil {
					return Op{}, false, fmt.Errorf("%s: history: last line: %w", j.path, err)
				}
				if err := op.validate(); err != nil {
					return Op{}, false, fmt.Errorf("%s: history: last line: %w", j.path, err)
				}
				return op, true, nil
			}
			if i < 0 {
				return Op{}, false, nil // only blank lines
			}
			tail = tail[:i+1] // a blank last line: look at the one before
			continue
		}
		more, err := read()
		if err != nil {
			return Op{}, false, err
		}
		if !more {
			return Op{}, false, nil
		}
	}
}

// streamValidator checks, one op at a time, the rules Pairs checks on a
// whole history: one op in flight per process, a completion only for a
// pending invocation, no invocation after an info. It holds one entry per
// process pending or crashed.
type streamValidator struct {
	pending map[Process]int // process -> index of its pending invocation
	crashed map[Process]int // process -> index of its info completion
}

func (v *streamValidator) check(op *Op) error {
	if !op.IsClient() {
		return nil
	}
	if v.pending == nil {
		v.pending = make(map[Process]int)
		v.crashed = make(map[Process]int)
	}
	if op.Type == Invoke {
		if prev, ok := v.pending[op.Process]; ok {
			return fmt.Errorf("op %d: process %s invokes while op %d is still pending", op.Index, op.Process, prev)
		}
		if prev, ok := v.crashed[op.Process]; ok {
			return fmt.Errorf("op %d: process %s invokes again after its op %d ended info (a client must continue under a new process id)", op.Index, op.Process, prev)
		}
		v.pending[op.Process] = op.Index
		return nil
	}
	if _, ok := v.pending[op.Process]; !ok {
		return fmt.Errorf("op %d: process %s completes %s with no pending invocation", op.Index, op.Process, Clip(op.F))
	}
	delete(v.pending, op.Process)
	if op.Type == Info {
		v.crashed[op.Process] = op.Index
	}
	return nil
}

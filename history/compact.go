package history

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// jsonlOptions shape readJSONL.
type jsonlOptions struct {
	// sizeHint is the expected number of ops (kept ops, with keep; 0:
	// unknown); the op slice is allocated once at that size.
	sizeHint int
	// keep, when set, selects the ops to return. Every line is still
	// parsed and checked in position; the kept ops are re-indexed from 0
	// and orig receives the index of each in the file.
	keep func(*Op) bool
	orig *[]int
}

// keepChunk is the number of ops in a chunk of a filtered load.
const keepChunk = 1 << 16

// readJSONL is ReadJSONL, optionally filtered and preallocated. Repeated
// strings are interned and lists share slabs (see decoder), so the History
// holds little beyond its []Op.
func readJSONL(r io.Reader, o jsonlOptions) (*History, ReadInfo, error) {
	var info ReadInfo
	lr := newLineReader(r)
	h := &History{}
	if o.sizeHint > 0 {
		h.Ops = make([]Op, 0, o.sizeHint)
	}
	var orig []int
	var chunks [][]Op // with keep and no size hint: the kept ops, copied once at the end
	if o.keep != nil && o.sizeHint > 0 {
		orig = make([]int, 0, o.sizeHint)
	}
	d := newDecoder()
	pos := 0 // position in the file
	var op Op
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, info, err
		}
		info.Lines = lr.n
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		err = d.decodeLine(line, &op)
		if err == nil {
			err = checkParsed(&op, pos)
		}
		if err != nil {
			return nil, info, fmt.Errorf("history: jsonl line %d: %w", lr.n, err)
		}
		pos++
		if o.keep != nil {
			if !o.keep(&op) {
				continue
			}
			op.Index = len(orig)
			orig = append(orig, pos-1)
			if o.sizeHint > 0 {
				h.Ops = append(h.Ops, op)
				continue
			}
			// The selection's size is unknown: fixed-size chunks, so
			// that no growing slice is copied again and again.
			if n := len(chunks); n == 0 || len(chunks[n-1]) == cap(chunks[n-1]) {
				chunks = append(chunks, make([]Op, 0, keepChunk))
			}
			chunks[len(chunks)-1] = append(chunks[len(chunks)-1], op)
			continue
		}
		h.Ops = append(h.Ops, op)
	}
	lr.report(&info)
	if o.keep != nil && o.sizeHint <= 0 {
		h.Ops = make([]Op, 0, len(orig))
		for n := range chunks {
			h.Ops = append(h.Ops, chunks[n]...)
			chunks[n] = nil
		}
	}
	if o.orig != nil {
		*o.orig = orig
	}
	if err := h.Validate(); err != nil {
		return nil, info, fmt.Errorf("history: invalid jsonl history: %w", err)
	}
	info.noteTimes(h)
	return h, info, nil
}

// checkParsed checks one decoded line that should hold the op at position
// pos.
func checkParsed(op *Op, pos int) error {
	if op.Index != pos {
		return fmt.Errorf("op index %d, but it is op number %d", op.Index, pos)
	}
	return op.validate()
}

// parseJSONLine decodes one line that should hold the op at position pos.
func parseJSONLine(line []byte, pos int) (Op, error) {
	var op Op
	if err := newDecoder().decodeLine(line, &op); err != nil {
		return Op{}, err
	}
	if err := checkParsed(&op, pos); err != nil {
		return Op{}, err
	}
	return op, nil
}

// countLines counts the newlines of the file at path (plus one for a last
// line without one): the size hint of a load.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	n, last := 0, byte('\n')
	for {
		k, err := f.Read(buf)
		if k > 0 {
			n += bytes.Count(buf[:k], []byte{'\n'})
			last = buf[k-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}

// LoadOptions shape LoadJSONL.
type LoadOptions struct {
	// Keep, when not nil, selects the ops to return: they are re-indexed
	// from 0, and LoadJSONL's orig[i] is the index in the file of the
	// returned op i. The file is still checked whole, line by line, and
	// the selection must itself be a well-formed history (Validate).
	Keep func(*Op) bool
	// SizeHint is the expected number of ops Keep selects, when the caller
	// knows it (the runner counts them while recording): their slice is
	// then allocated once at that size. Without it a filtered load
	// collects the ops in chunks and copies them once, which needs twice
	// the memory at the end. A wrong hint costs memory, never ops.
	// Without Keep the hint is the file's line count, always.
	SizeHint int
}

// LoadJSONL reads the JSONL history file at path, as Load does for
// FormatJSONL, with its op slice allocated once at the file's line count,
// or only the ops that o.Keep selects. This is how a checker of one
// workload gets its operations without a copy of the whole history.
func LoadJSONL(path string, o LoadOptions) (h *History, orig []int, info ReadInfo, err error) {
	hint := o.SizeHint
	if o.Keep == nil {
		if hint, err = countLines(path); err != nil {
			return nil, nil, info, fmt.Errorf("history: %w", err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, info, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	h, info, err = readJSONL(bufio.NewReaderSize(f, 256<<10), jsonlOptions{sizeHint: hint, keep: o.Keep, orig: &orig})
	if err != nil {
		return nil, nil, info, fmt.Errorf("%s: %w", path, err)
	}
	if len(h.Ops) == 0 && o.Keep == nil {
		return nil, nil, info, fmt.Errorf("history: %s: %w", path, ErrEmptyHistory)
	}
	return h, orig, info, nil
}

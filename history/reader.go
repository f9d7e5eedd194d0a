package history

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// ReadInfo describes what a reader went through.
type ReadInfo struct {
	// Lines is the number of lines of input, a final line without a
	// newline included.
	Lines int
	// Truncated reports that the last line had no newline and did not
	// parse: the writer crashed in the middle of it, and it was dropped.
	Truncated bool
	// TruncatedLine is the number (from 1) of the dropped line, when
	// Truncated.
	TruncatedLine int
}

// maxLineBytes bounds one line of input, so that a file without newlines
// cannot exhaust memory. A set read of a million elements still fits.
const maxLineBytes = 256 << 20

// lineReader yields the lines of r, of any length up to maxLineBytes.
type lineReader struct {
	r    *bufio.Reader
	n    int    // number of the line last returned, from 1
	long []byte // reused for lines longer than the bufio buffer
}

func newLineReader(r io.Reader) *lineReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &lineReader{r: br}
}

// next returns the next line without its newline, and whether it ended
// with one. At the end of input it returns io.EOF. The line is valid until
// the next call.
func (lr *lineReader) next() (line []byte, terminated bool, err error) {
	line, err = lr.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		lr.long = append(lr.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(lr.long) > maxLineBytes {
				return nil, false, fmt.Errorf("history: line %d is longer than %d bytes", lr.n+1, maxLineBytes)
			}
			line, err = lr.r.ReadSlice('\n')
			lr.long = append(lr.long, line...)
		}
		line = lr.long
	}
	switch {
	case err == nil:
		lr.n++
		return line[:len(line)-1], true, nil
	case errors.Is(err, io.EOF):
		if len(line) == 0 {
			return nil, false, io.EOF
		}
		lr.n++
		return line, false, nil
	default:
		return nil, false, fmt.Errorf("history: read line %d: %w", lr.n+1, err)
	}
}

// ReadJSONL reads a history written by Writer: one JSON op a line. Blank
// lines are skipped. A last line without a newline that does not parse is
// what a crash in the middle of a write leaves: it is dropped and reported
// in ReadInfo, not as an error. Any other bad line is an error naming its
// line number, and so is a history that breaks the invariants of the
// package documentation (see History.Validate).
func ReadJSONL(r io.Reader) (*History, ReadInfo, error) {
	return readJSONL(r, jsonlOptions{})
}

// WriteJSONL writes h as JSON lines, the format of Writer and ReadJSONL.
func WriteJSONL(w io.Writer, h *History) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	for i := range h.Ops {
		var err error
		line, err = appendOpLine(line[:0], &h.Ops[i])
		if err != nil {
			return fmt.Errorf("history: encode op %d: %w", h.Ops[i].Index, err)
		}
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("history: write jsonl: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("history: write jsonl: %w", err)
	}
	return nil
}

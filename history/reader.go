package history

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ReadInfo describes what a reader went through: typed facts about the
// input that do not stop it from being read but that a person must be
// told (see Warnings), and that `chaoscheck check` records in
// results.json.
type ReadInfo struct {
	// Format is the format the input was read as (named or detected), set
	// by Read and Load.
	Format Format `json:"format,omitempty"`
	// Lines is the number of lines of input, a final line without a
	// newline included.
	Lines int `json:"lines"`
	// Truncated reports that the input was cut short, as a crash in the
	// middle of a write leaves it: the last line had no newline (in the
	// line-based formats: JSONL, console logs, EDN one op a line), or an
	// EDN vector of ops was not closed. The op that was being written, if
	// any, was dropped, even when what remains of it parses: a read of 12
	// cut to a read of 1 is not a read of 1.
	Truncated bool `json:"truncated,omitempty"`
	// TruncatedLine is the number (from 1) of the dropped line, or of the
	// line where the unclosed vector ends, when Truncated.
	TruncatedLine int `json:"truncated_line,omitempty"`
	// TimeRegressions counts the ops whose time is lower than that of an
	// op before them. Older Jepsen versions stamp times per worker, so
	// their histories go back by about 100 ns here and there. The order of
	// the file is the order of events: checkers use it as real-time
	// order, and times only for durations.
	TimeRegressions int `json:"time_regressions,omitempty"`
	// FirstTimeRegression is the index of the first such op, when
	// TimeRegressions > 0.
	FirstTimeRegression int `json:"first_time_regression,omitempty"`
	// MaxTimeRegressionNS is the largest step back, in nanoseconds.
	MaxTimeRegressionNS int64 `json:"max_time_regression_ns,omitempty"`
	// SynthesizedInvokes counts the invocations an EDN import inserted
	// before completions that had none (Elle's test histories give
	// completions only); RemappedProcesses the invocations it moved to a
	// new process because their process already had one in flight or had
	// crashed. See ReadEDN.
	SynthesizedInvokes int `json:"synthesized_invokes,omitempty"`
	RemappedProcesses  int `json:"remapped_processes,omitempty"`
}

// Warnings renders the facts of i a person must be told, one line each,
// or nil when there are none.
func (i ReadInfo) Warnings() []string {
	var w []string
	if i.Truncated {
		w = append(w, fmt.Sprintf("the input was cut short at line %d (a crash mid-write?): the op being written there was dropped", i.TruncatedLine))
	}
	if i.TimeRegressions > 0 {
		w = append(w, fmt.Sprintf("times go back at %d op(s), first at op %d, by up to %d ns (older Jepsen stamps times per worker): the file order was used as real-time order", i.TimeRegressions, i.FirstTimeRegression, i.MaxTimeRegressionNS))
	}
	if i.SynthesizedInvokes > 0 {
		w = append(w, fmt.Sprintf("%d completion(s) had no invocation (as in Elle's tests): an invocation was inserted just before each", i.SynthesizedInvokes))
	}
	if i.RemappedProcesses > 0 {
		w = append(w, fmt.Sprintf("%d invocation(s) came while their process had one in flight or had crashed: each was moved to a new process id (jepsen-process keeps the original)", i.RemappedProcesses))
	}
	return w
}

// noteTimes records in i where the times of h go back.
func (i *ReadInfo) noteTimes(h *History) {
	i.TimeRegressions, i.FirstTimeRegression, i.MaxTimeRegressionNS = 0, 0, 0
	var high int64
	for n := range h.Ops {
		t := h.Ops[n].Time
		if n > 0 && t < high {
			if i.TimeRegressions == 0 {
				i.FirstTimeRegression = n
			}
			i.TimeRegressions++
			i.MaxTimeRegressionNS = max(i.MaxTimeRegressionNS, high-t)
		}
		if n == 0 || t > high {
			high = t
		}
	}
}

// maxLineBytes bounds one line of input, so that a file without newlines
// cannot exhaust memory. A set read of a million elements still fits.
const maxLineBytes = 256 << 20

// lineReader yields the lines of r, of any length up to maxLineBytes.
//
// A last line without its newline is what a crash in the middle of a
// write leaves: next never returns it, even when it would parse (a read
// of 12 cut to a read of 1 still parses), and records it for report.
type lineReader struct {
	r         *bufio.Reader
	n         int    // number of the line last read, from 1
	long      []byte // reused for lines longer than the bufio buffer
	truncated int    // the number of a dropped unterminated last line, or 0
}

func newLineReader(r io.Reader) *lineReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &lineReader{r: br}
}

// next returns the next line without its newline. At the end of input,
// and in place of an unterminated last line that is not blank, it returns
// io.EOF. The line is valid until the next call.
func (lr *lineReader) next() (line []byte, err error) {
	line, err = lr.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		lr.long = append(lr.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(lr.long) > maxLineBytes {
				return nil, fmt.Errorf("history: line %d is longer than %d bytes", lr.n+1, maxLineBytes)
			}
			line, err = lr.r.ReadSlice('\n')
			lr.long = append(lr.long, line...)
		}
		line = lr.long
	}
	switch {
	case err == nil:
		lr.n++
		return line[:len(line)-1], nil
	case errors.Is(err, io.EOF):
		if len(line) == 0 {
			return nil, io.EOF
		}
		lr.n++
		if len(bytes.TrimSpace(line)) > 0 {
			lr.truncated = lr.n
		}
		return nil, io.EOF
	default:
		return nil, fmt.Errorf("history: read line %d: %w", lr.n+1, err)
	}
}

// report records in info how many lines were read and the truncated last
// line, if one was dropped.
func (lr *lineReader) report(info *ReadInfo) {
	info.Lines = lr.n
	if lr.truncated > 0 {
		info.Truncated = true
		info.TruncatedLine = lr.truncated
	}
}

// ReadJSONL reads a history written by Writer: one JSON op a line. Blank
// lines are skipped. A last line without a newline is what a crash in the
// middle of a write leaves: it is dropped and reported in ReadInfo, not as
// an error, whether or not it parses. Any other bad line is an error
// naming its line number, and so is a history that breaks the invariants
// of the package documentation (see History.Validate). Times that go back
// are reported in ReadInfo.
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

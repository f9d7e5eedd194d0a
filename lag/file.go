package lag

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// File is the name of the samples in a run directory.
const File = "lag.jsonl"

// bufSize is the Writer's buffer: samples reach the file when it is
// full, on Flush and on Close, so memory stays bounded however long the
// run.
const bufSize = 64 << 10

// Writer streams samples as JSON lines, one Sample a line. It is meant
// for one goroutine (the runner's sampling loop): it takes no lock. The
// first error is sticky: every later Write, Flush and Close returns it.
type Writer struct {
	f   *os.File // nil when the Writer does not own its output
	bw  *bufio.Writer
	enc *json.Encoder
	err error
}

// NewWriter returns a Writer streaming to w. The caller keeps w: Close
// flushes but does not close it.
func NewWriter(w io.Writer) *Writer {
	bw := bufio.NewWriterSize(w, bufSize)
	return &Writer{bw: bw, enc: json.NewEncoder(bw)}
}

// Create creates the file at path (it must not exist yet) and returns a
// Writer that owns it: Close flushes, fsyncs and closes it.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lag: create %s: %w", path, err)
	}
	w := NewWriter(f)
	w.f = f
	return w, nil
}

// Write appends each sample as a line.
func (w *Writer) Write(samples []Sample) error {
	for i := range samples {
		if w.err != nil {
			return w.err
		}
		if err := w.enc.Encode(&samples[i]); err != nil {
			w.err = fmt.Errorf("lag: write sample: %w", err)
		}
	}
	return w.err
}

// Flush writes the buffered lines out (without fsync).
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("lag: write samples: %w", err)
	}
	return w.err
}

// Close flushes and, when the Writer owns its file, fsyncs and closes it.
func (w *Writer) Close() error {
	err := w.Flush()
	if w.f != nil {
		if err == nil {
			if serr := w.f.Sync(); serr != nil {
				err = fmt.Errorf("lag: sync: %w", serr)
			}
		}
		if cerr := w.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("lag: close: %w", cerr)
		}
		w.f = nil
	}
	if w.err == nil {
		w.err = err
	}
	return err
}

// ErrNoSamples is returned by ScanFile when the run directory has no
// lag.jsonl (a target without replicas, or a run made before sampling).
var ErrNoSamples = errors.New("lag: no samples")

// Scan reads samples from r one line at a time and gives each to fn,
// which must not keep the pointer. A last line cut short (a run stopped
// mid-write) ends the scan without error; any other bad line is an error
// naming its line number.
func Scan(r io.Reader, fn func(*Sample) error) error {
	br := bufio.NewReaderSize(r, bufSize)
	var s Sample
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("lag: line %d is longer than %d bytes", line, bufSize)
		}
		if len(b) > 0 && err == nil {
			s = Sample{}
			if jerr := json.Unmarshal(b, &s); jerr != nil {
				return fmt.Errorf("lag: line %d: %w", line, jerr)
			}
			if ferr := fn(&s); ferr != nil {
				return ferr
			}
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil // an unterminated last line was cut short: dropped
		}
		if err != nil {
			return fmt.Errorf("lag: read: %w", err)
		}
	}
}

// ScanFile is Scan on the file at path; ErrNoSamples when it does not
// exist.
func ScanFile(path string, fn func(*Sample) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNoSamples
	}
	if err != nil {
		return fmt.Errorf("lag: %w", err)
	}
	defer f.Close()
	return Scan(f, fn)
}

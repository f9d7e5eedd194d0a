package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// FlushInterval bounds how long a written op may wait in a Writer's buffer
// before it reaches the file: a background flush runs this long after the
// buffer goes from empty to non-empty. A crash of the controller therefore
// loses at most the last FlushInterval of history (plus what the operating
// system had not yet written to disk, which Close forces with fsync).
const FlushInterval = 100 * time.Millisecond

// maxPending is the buffer size at which Write flushes synchronously rather
// than waiting for the timer: it bounds memory when ops arrive faster than
// the timer drains them, and pushes back on writers when the disk is slow.
// The buffer exceeds it by at most one line per concurrent writer: each
// writer that finds it full waits for the disk before writing again.
const maxPending = 256 << 10

// ErrClosed is returned by Write and Flush after Close.
var ErrClosed = errors.New("history: writer is closed")

// Writer streams ops as JSON lines, one op per line, in the order of the
// calls to Write. It is safe for concurrent use.
//
// Lines are buffered in memory and written out FlushInterval after the
// first unflushed one (by a background goroutine), when the buffer grows
// past 256 KiB, on Flush, and on Close, which also fsyncs. The disk is
// written outside the lock that Write takes to append to the buffer, so a
// slow disk holds up only the writer that found the buffer full.
//
// The first error writing to the underlying writer is sticky: every later
// Write, Flush and Close returns it, Failed is closed, and nothing more is
// written, so the file never holds a line after a gap. When the
// underlying writer can be truncated (an *os.File), a line it took only
// part of is cut off, so the file stays a readable prefix of whole lines.
type Writer struct {
	out    io.Writer
	syncer interface{ Sync() error } // nil when out cannot sync
	owned  io.Closer                 // closed by Close when Create opened it
	failed chan struct{}             // closed when err is set

	mu     sync.Mutex // guards the fields below
	buf    []byte     // lines not yet handed to out
	err    error      // sticky error
	closed bool
	armed  bool // timer scheduled for the current buf
	timer  *time.Timer

	ioMu    sync.Mutex // serialises writes to out, in buffer order
	spare   []byte     // the other buffer; guarded by ioMu
	written int64      // bytes of whole lines out took; guarded by ioMu

	closeOnce sync.Once
}

// NewWriter returns a Writer streaming to w. When w has a Sync method (an
// *os.File does), Close calls it. The caller keeps ownership of w: Close
// does not close it.
func NewWriter(w io.Writer) *Writer {
	hw := &Writer{out: w, failed: make(chan struct{})}
	if s, ok := w.(interface{ Sync() error }); ok {
		hw.syncer = s
	}
	hw.timer = time.AfterFunc(time.Hour, hw.timerFlush)
	hw.timer.Stop()
	return hw
}

// Create creates the file at path (it must not exist yet, so that a
// history is never overwritten) and returns a Writer that owns it: Close
// flushes, fsyncs and closes the file.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("history: create history file: %w", err)
	}
	w := NewWriter(f)
	w.owned = f
	return w, nil
}

// Write appends op as one JSON line. It returns the sticky error, if any,
// or ErrClosed after Close. A nil Writer discards ops.
func (w *Writer) Write(op *Op) error {
	if w == nil {
		return nil
	}
	line, err := marshalLine(op)
	if err != nil {
		return fmt.Errorf("history: encode op %d: %w", op.Index, err)
	}
	full, err := w.push(nil, line)
	if full {
		return w.flush()
	}
	return err
}

// push appends head and body (one line together) to the buffer, and
// reports whether the buffer is now full: the caller must then call flush,
// outside any lock of its own. It never touches the disk and allocates
// only when the buffer grows past its largest size so far.
func (w *Writer) push(head, body []byte) (full bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return false, w.err
	}
	if w.closed {
		return false, ErrClosed
	}
	w.buf = append(w.buf, head...)
	w.buf = append(w.buf, body...)
	full = len(w.buf) >= maxPending
	if !full && !w.armed {
		w.armed = true
		w.timer.Reset(FlushInterval)
	}
	return full, nil
}

// Failed returns a channel closed when a write to the underlying writer
// has failed (Err then says why). A nil Writer never fails.
func (w *Writer) Failed() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.failed
}

// Flush writes buffered lines to the underlying writer (without fsync).
func (w *Writer) Flush() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		if err := w.Err(); err != nil {
			return err
		}
		return ErrClosed
	}
	return w.flush()
}

// Err returns the sticky error, or nil.
func (w *Writer) Err() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close flushes the buffer, fsyncs the file, stops the background flush
// and, for a Writer made by Create, closes the file. It is idempotent:
// later calls (and concurrent ones, once the first has finished) return
// the same result.
func (w *Writer) Close() error {
	if w == nil {
		return nil
	}
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.timer.Stop()
		w.mu.Unlock()
		// A timer flush already running is serialised with this one by
		// ioMu and finds an empty buffer afterwards.
		_ = w.flush()
		if w.Err() == nil && w.syncer != nil {
			if err := w.syncer.Sync(); err != nil && !unsyncable(err) {
				w.setErr(fmt.Errorf("history: sync history file: %w", err))
			}
		}
		if w.owned != nil {
			if err := w.owned.Close(); err != nil {
				w.setErr(fmt.Errorf("history: close history file: %w", err))
			}
		}
	})
	return w.Err()
}

// unsyncable reports whether a Sync error only says that the file cannot
// be synced at all (a pipe, a terminal), which is not a write failure.
func unsyncable(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported)
}

// timerFlush is the background flush, run by the timer's goroutine.
func (w *Writer) timerFlush() {
	_ = w.flush() // the error is sticky and reported by the next call
}

// flush hands the current buffer to out. Buffers are swapped under mu and
// written under ioMu only, so Write never waits for the disk unless the
// buffer is full.
func (w *Writer) flush() error {
	w.ioMu.Lock()
	defer w.ioMu.Unlock()
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.buf = w.buf[:0]
		w.mu.Unlock()
		return err
	}
	b := w.buf
	w.buf = w.spare[:0]
	w.armed = false
	w.mu.Unlock()
	if len(b) == 0 {
		w.spare = b
		return nil
	}
	n, err := w.out.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		err = fmt.Errorf("history: write history file: %w", err)
		w.cutPartialLine(b[:max(n, 0)])
		w.spare = b[:0]
		w.setErr(err)
		return w.Err()
	}
	w.written += int64(n)
	w.spare = b[:0]
	return nil
}

// cutPartialLine truncates the file after the last whole line of part, the
// bytes a failed write did take, when the file can be truncated. It runs
// under ioMu.
func (w *Writer) cutPartialLine(part []byte) {
	whole := bytes.LastIndexByte(part, '\n') + 1
	w.written += int64(whole)
	if whole == len(part) {
		return
	}
	if t, ok := w.out.(interface{ Truncate(int64) error }); ok {
		_ = t.Truncate(w.written) // best effort: readers drop a partial last line anyway
	}
}

// setErr records err unless an earlier error is already sticky.
func (w *Writer) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		close(w.failed)
	}
}

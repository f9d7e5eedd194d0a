package history

import (
	"maps"
	"sync"
	"time"
)

// Recorder builds the history of a running test. Clients call Record for
// every invocation and completion; the Recorder stamps each op with its
// index and time and streams it to a Writer. It is safe for concurrent use.
//
// A streaming Recorder (NewRecorder with a Writer) keeps no ops: the
// history is the file, read back after the test (Load). Without a Writer
// the ops are kept in memory, in fixed-size chunks, for History.
//
// Record's critical section is small and constant: stamp the index and the
// time and append one encoded line to the Writer's buffer (or the op to the
// current chunk). The op is encoded before the lock is taken, nothing in it
// allocates in proportion to the history, and the disk is written outside
// it: a client that finds the Writer's buffer full writes it out after
// releasing the lock (the only backpressure, bounded by the buffer size).
type Recorder struct {
	start time.Time // carries a monotonic clock reading
	w     *Writer
	bufs  sync.Pool // *[]byte: encoded bodies, reused

	mu     sync.Mutex
	n      int    // ops recorded
	last   int64  // time of the last op
	chunks [][]Op // memory mode only: full chunks, then the current one
	cur    []Op   // memory mode only: the current chunk (len < recChunk)
}

// recChunk is the number of ops in a chunk of a memory Recorder.
const recChunk = 4096

// NewRecorder starts the test clock and returns a Recorder streaming to w.
// w may be nil: the history is then kept in memory only. The Recorder does
// not close w.
func NewRecorder(w *Writer) *Recorder {
	r := &Recorder{start: time.Now(), w: w}
	r.bufs.New = func() any { b := make([]byte, 0, 256); return &b }
	return r
}

// Record assigns op its Index (the next position) and its Time
// (nanoseconds since the Recorder was made, from the monotonic clock),
// streams it to the writer (or keeps it), and returns the stamped op. Both
// stamps are taken under one lock, so index order is time order and file
// order.
//
// The caller must not modify op.Value or op.Extra afterwards; a memory
// Recorder copies Extra, Value is immutable by convention. A write error
// does not stop recording: it is sticky in the Writer, reported by Err,
// and signalled by Failed so that the test can stop.
func (r *Recorder) Record(op Op) Op {
	op, _ = r.record(op, -1)
	return op
}

// RecordBefore is Record for an op that must not be recorded at or after
// until (a time on the op clock, as Elapsed gives): the time limit of
// invocations. The check and the stamp are one step under the lock, so no
// op recorded by RecordBefore has a Time at or past until. It returns
// false, recording nothing, when until has passed.
func (r *Recorder) RecordBefore(op Op, until time.Duration) (Op, bool) {
	return r.record(op, until.Nanoseconds())
}

// record records op, unless until >= 0 and the op's time would be at or
// past it.
func (r *Recorder) record(op Op, until int64) (Op, bool) {
	if r.w == nil {
		return r.keep(op, until)
	}
	bp := r.bufs.Get().(*[]byte)
	body, err := appendOpBody((*bp)[:0], &op)
	if err != nil {
		body = nil // unreachable for ops built by clients; the index stays taken
	}
	var head [48]byte
	r.mu.Lock()
	if !r.stamp(&op, until) {
		r.mu.Unlock()
		*bp = body[:0]
		r.bufs.Put(bp)
		return op, false
	}
	full := false
	if body != nil {
		full, _ = r.w.push(appendOpHead(head[:0], op.Index, op.Time), body)
	}
	r.mu.Unlock()
	*bp = body[:0]
	r.bufs.Put(bp)
	if full {
		_ = r.w.flush() // sticky: reported by Err
	}
	return op, true
}

// stamp sets op's index and time, unless until >= 0 and the time is at or
// past it (false); r.mu must be held.
func (r *Recorder) stamp(op *Op, until int64) bool {
	t := time.Since(r.start).Nanoseconds()
	if t < r.last {
		t = r.last // the monotonic clock does not go back; be sure anyway
	}
	if until >= 0 && t >= until {
		return false
	}
	r.last = t
	op.Index = r.n
	op.Time = t
	r.n++
	return true
}

// keep records op in memory.
func (r *Recorder) keep(op Op, until int64) (Op, bool) {
	if op.Extra != nil {
		op.Extra = maps.Clone(op.Extra)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stamp(&op, until) {
		return op, false
	}
	if len(r.cur) == cap(r.cur) {
		if r.cur != nil {
			r.chunks = append(r.chunks, r.cur)
		}
		r.cur = make([]Op, 0, recChunk)
	}
	r.cur = append(r.cur, op)
	return op, true
}

// History returns a copy of the ops a memory Recorder (NewRecorder(nil))
// recorded so far; values and Extra maps are shared with the Recorder and
// must not be modified. A streaming Recorder keeps no ops: its History is
// nil, and the history is the file it wrote (see Load).
//
// The lock is held only to note where the recorded ops end; they are
// copied after it is released (recorded ops never change).
func (r *Recorder) History() *History {
	if r.w != nil {
		return nil
	}
	r.mu.Lock()
	chunks := append([][]Op(nil), r.chunks...)
	cur := r.cur[:len(r.cur):len(r.cur)]
	n := r.n
	r.mu.Unlock()
	ops := make([]Op, 0, n)
	for _, c := range chunks {
		ops = append(ops, c...)
	}
	ops = append(ops, cur...)
	return &History{Ops: ops}
}

// Len returns the number of ops recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Err returns the Writer's sticky error, or nil (always nil without a
// Writer).
func (r *Recorder) Err() error { return r.w.Err() }

// Failed returns a channel closed when the Writer failed to write (nil,
// never closed, without a Writer).
func (r *Recorder) Failed() <-chan struct{} { return r.w.Failed() }

// Start returns the wall-clock time at which the test clock started; op
// times are offsets from it.
func (r *Recorder) Start() time.Time { return r.start }

// Elapsed returns the time since the test clock started, on the clock op
// times use.
func (r *Recorder) Elapsed() time.Duration { return time.Since(r.start) }

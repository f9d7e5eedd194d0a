package history

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// Recorder builds the history of a running test. Clients call Record for
// every invocation and completion; the Recorder stamps each op with its
// index and time, keeps it in memory and streams it to a Writer. It is safe
// for concurrent use.
type Recorder struct {
	start time.Time // carries a monotonic clock reading
	w     *Writer

	mu   sync.Mutex
	ops  []Op
	last int64
}

// NewRecorder starts the test clock and returns a Recorder streaming to w.
// w may be nil: the history is then kept in memory only. The Recorder does
// not close w.
func NewRecorder(w *Writer) *Recorder {
	return &Recorder{start: time.Now(), w: w}
}

// Record assigns op its Index (the next position) and its Time
// (nanoseconds since the Recorder was made, from the monotonic clock), keeps
// it and streams it to the writer, and returns the stamped op. Both stamps
// are taken under one lock, so index order is time order and file order.
//
// The caller must not modify op.Value or op.Extra afterwards; Extra is
// copied, Value is immutable by convention. A write error does not stop
// recording: it is sticky in the Writer and reported by Err.
func (r *Recorder) Record(op Op) Op {
	if op.Extra != nil {
		op.Extra = maps.Clone(op.Extra)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t := time.Since(r.start).Nanoseconds()
	if t < r.last {
		t = r.last // the monotonic clock does not go back; be sure anyway
	}
	r.last = t
	op.Index = len(r.ops)
	op.Time = t
	r.ops = append(r.ops, op)
	_ = r.w.Write(&op) // sticky: reported by Err
	return op
}

// History returns a copy of the ops recorded so far. Values and Extra maps
// are shared with the Recorder and must not be modified.
func (r *Recorder) History() *History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &History{Ops: slices.Clone(r.ops)}
}

// Len returns the number of ops recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ops)
}

// Err returns the Writer's sticky error, or nil (always nil without a
// Writer).
func (r *Recorder) Err() error { return r.w.Err() }

// Start returns the wall-clock time at which the test clock started; op
// times are offsets from it.
func (r *Recorder) Start() time.Time { return r.start }

// Elapsed returns the time since the test clock started, on the clock op
// times use.
func (r *Recorder) Elapsed() time.Duration { return time.Since(r.start) }

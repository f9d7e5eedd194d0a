package runner

import (
	"context"
	"sync"
	"time"
)

// opContext is the context of one client session's operations, reused
// from one operation to the next. context.WithTimeout per operation costs
// a context, a timer and a channel (3 to 4 allocations), and two critical
// sections on the parent context, which every client's operations share;
// an opContext costs a timer reset and a stop.
//
// Invariants, for the operation between begin and end:
//   - Deadline is the earlier of begin's time plus the timeout and the
//     parent's deadline;
//   - Done is closed and Err is context.DeadlineExceeded once the deadline
//     has passed, or Done is closed and Err is the parent's error once the
//     parent is done; otherwise Done is open and Err is nil;
//   - functions registered with AfterFunc (context.AfterFunc, and the
//     children context.WithCancel and the like derive) run, each in its
//     own goroutine, when Done closes, unless stopped first.
//
// An operation that timed out leaves its Done closed for whoever still
// holds it; the next begin makes a new channel. A timer that fires late,
// after its operation ended, finds the next operation's deadline still
// ahead and does nothing. Value hides the parent's cancellation
// machinery (a value that is itself a Context), so that context.Cause
// and derived contexts see this context's own Err, not the parent's.
//
// One goroutine uses it at a time (begin, the operation, end); Deadline,
// Done, Err, Value and AfterFunc are safe from any goroutine.
type opContext struct {
	parent     context.Context
	timeout    time.Duration
	timer      *time.Timer
	stopParent func() bool

	mu       sync.Mutex
	deadline time.Time
	active   bool
	done     chan struct{}
	err      error
	funcs    map[*afterFunc]struct{}
}

type afterFunc struct{ f func() }

var _ context.Context = (*opContext)(nil)

// newOpContext returns the context of a session's operations under parent,
// each bounded by timeout. close must be called when the session ends.
func newOpContext(parent context.Context, timeout time.Duration) *opContext {
	o := &opContext{parent: parent, timeout: timeout, done: make(chan struct{})}
	o.timer = time.AfterFunc(time.Hour, o.fire)
	o.timer.Stop()
	o.stopParent = context.AfterFunc(parent, func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.finish(parent.Err())
	})
	return o
}

// begin starts an operation: its deadline is timeout from now.
func (o *opContext) begin() {
	now := time.Now()
	dl := now.Add(o.timeout)
	if pd, ok := o.parent.Deadline(); ok && pd.Before(dl) {
		dl = pd
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		if perr := o.parent.Err(); perr != nil {
			o.err = perr // stays done
		} else {
			o.done = make(chan struct{})
			o.err = nil
		}
	}
	o.deadline = dl
	o.active = true
	if o.err == nil {
		o.timer.Reset(dl.Sub(now))
	}
}

// end ends the operation begun last.
func (o *opContext) end() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.active = false
	o.timer.Stop()
}

// close releases the timer and the watch of the parent.
func (o *opContext) close() {
	o.stopParent()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.active = false
	o.timer.Stop()
}

// fire is the timer's function.
func (o *opContext) fire() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.active && !time.Now().Before(o.deadline) {
		o.finish(context.DeadlineExceeded)
	}
}

// finish makes the context done with err, unless it is already; o.mu must
// be held.
func (o *opContext) finish(err error) {
	if o.err != nil {
		return
	}
	o.err = err
	close(o.done)
	for a := range o.funcs {
		go a.f()
	}
	clear(o.funcs)
}

// Deadline returns the current operation's deadline.
func (o *opContext) Deadline() (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.deadline, true
}

// Done returns the channel closed when the current operation must end.
func (o *opContext) Done() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.done
}

// Err returns nil while Done is open, else why it closed.
func (o *opContext) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// Value returns the parent's value for key, except a value that is itself
// a Context: only the context package stores those (the cancellation of
// the parent), and exposing it would make context.Cause and derived
// contexts consult the parent instead of this context.
func (o *opContext) Value(key any) any {
	v := o.parent.Value(key)
	if _, isCtx := v.(context.Context); isCtx {
		return nil
	}
	return v
}

// AfterFunc arranges for f to run in its own goroutine when Done closes
// (at once if it is closed); stop unregisters it and reports whether it
// had not run yet. context.AfterFunc and the derived contexts use it
// instead of a goroutine watching Done.
func (o *opContext) AfterFunc(f func()) (stop func() bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	if o.funcs == nil {
		o.funcs = make(map[*afterFunc]struct{})
	}
	o.funcs[a] = struct{}{}
	return func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		_, ok := o.funcs[a]
		delete(o.funcs, a)
		return ok
	}
}

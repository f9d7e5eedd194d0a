package runner

import (
	"context"
	"sync/atomic"
	"time"
)

// stallTick is the period of the stall watch.
const stallTick = 10 * time.Millisecond

// stallWatch measures how late this process gets to run: a goroutine that
// wakes every stallTick and notes the longest delay past its wake-up time.
// A long delay means that nothing in the process ran (an overloaded
// machine, a stop-the-world pause), which also leaves a gap in the
// history that the harness did not cause.
type stallWatch struct {
	longest atomic.Int64 // nanoseconds
	done    chan struct{}
}

// watchStalls runs a stallWatch until ctx ends.
func watchStalls(ctx context.Context) *stallWatch {
	s := &stallWatch{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTimer(stallTick)
		defer t.Stop()
		for {
			start := time.Now()
			t.Reset(stallTick)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if late := time.Since(start) - stallTick; late > time.Duration(s.longest.Load()) {
				s.longest.Store(int64(late))
			}
		}
	}()
	return s
}

// Longest returns the longest delay seen, after waiting for the watch to
// end (its context must be done).
func (s *stallWatch) Longest() time.Duration {
	<-s.done
	return time.Duration(s.longest.Load())
}

package runner

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitDone waits for ch to close, failing after a generous bound.
func waitDone(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not done after 10s", what)
	}
}

func TestOpContextTimesOutAndIsReusable(t *testing.T) {
	o := newOpContext(context.Background(), 20*time.Millisecond)
	defer o.close()

	o.begin()
	done := o.Done()
	if o.Err() != nil {
		t.Fatalf("fresh op: Err = %v", o.Err())
	}
	if dl, ok := o.Deadline(); !ok || time.Until(dl) > 20*time.Millisecond {
		t.Fatalf("deadline %v, %v: want within the timeout", dl, ok)
	}
	waitDone(t, done, "timed-out op")
	if !errors.Is(o.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want DeadlineExceeded", o.Err())
	}
	if c := context.Cause(o); !errors.Is(c, context.DeadlineExceeded) {
		t.Fatalf("Cause = %v, want DeadlineExceeded (not the parent's nil)", c)
	}
	o.end()

	// The next operation gets a fresh channel; the old one stays closed.
	o.begin()
	if o.Err() != nil {
		t.Fatalf("next op: Err = %v", o.Err())
	}
	if o.Done() == done {
		t.Fatal("next op reuses the closed channel")
	}
	select {
	case <-done:
	default:
		t.Fatal("the timed-out op's channel was reopened")
	}
	o.end()
}

func TestOpContextEndedOpDoesNotCancelTheNext(t *testing.T) {
	o := newOpContext(context.Background(), time.Hour)
	defer o.close()
	for range 1000 {
		o.begin()
		o.end()
	}
	// A late fire of an old timer finds the current deadline ahead.
	o.begin()
	o.fire()
	if o.Err() != nil {
		t.Fatalf("a fire before the deadline cancelled the op: %v", o.Err())
	}
	o.end()
}

func TestOpContextParentCancel(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	o := newOpContext(parent, time.Hour)
	defer o.close()
	o.begin()
	ran := make(chan struct{})
	stop := context.AfterFunc(o, func() { close(ran) })
	child, childCancel := context.WithCancel(o)
	defer childCancel()
	cancel()
	waitDone(t, o.Done(), "op after the parent's cancel")
	if !errors.Is(o.Err(), context.Canceled) {
		t.Fatalf("Err = %v, want Canceled", o.Err())
	}
	waitDone(t, ran, "AfterFunc")
	waitDone(t, child.Done(), "derived context")
	if stop() {
		t.Fatal("stop after the function ran reported true")
	}
	o.end()
	// Once the parent is done, every later op is done too.
	o.begin()
	if !errors.Is(o.Err(), context.Canceled) {
		t.Fatalf("op after the parent's cancel: Err = %v", o.Err())
	}
	o.end()
}

func TestOpContextAfterFuncStopped(t *testing.T) {
	o := newOpContext(context.Background(), 20*time.Millisecond)
	defer o.close()
	o.begin()
	ran := make(chan struct{})
	stop := context.AfterFunc(o, func() { close(ran) })
	if !stop() {
		t.Fatal("stop before the deadline reported false")
	}
	waitDone(t, o.Done(), "timed-out op")
	o.end()
	select {
	case <-ran:
		t.Fatal("a stopped AfterFunc ran")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestOpContextParentDeadlineBounds(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := newOpContext(parent, time.Hour)
	defer o.close()
	o.begin()
	defer o.end()
	pd, _ := parent.Deadline()
	if dl, _ := o.Deadline(); !dl.Equal(pd) {
		t.Fatalf("deadline %v, want the parent's %v", dl, pd)
	}
}

func BenchmarkOpContext(b *testing.B) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.Run("reused", func(b *testing.B) {
		o := newOpContext(parent, 2*time.Second)
		defer o.close()
		b.ReportAllocs()
		for b.Loop() {
			o.begin()
			_ = o.Done()
			o.end()
		}
	})
	b.Run("WithTimeout", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ctx, cancel := context.WithTimeout(parent, 2*time.Second)
			_ = ctx.Done()
			cancel()
		}
	})
}
